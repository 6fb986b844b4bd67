"""Peer processes for the distributed GC tests.

Usage:
  dgc_peer.py server [--lease S] [--sweep S] [--listen ENDPOINT]
      Exports a Factory ("factory") and a Probe ("probe"); prints one JSON
      line with its ORB id and URIs; serves until stdin closes.
  dgc_peer.py client FACTORY_URI
      Gets one Thing from the factory and holds it; prints one JSON line with
      its ORB id and the Thing's object id; exits when stdin closes.
  dgc_peer.py forwarder FACTORY_URI KEEPER_URI
      Gets a Thing from the factory and the keeper's interface, prints READY
      and waits for a line on stdin; then hands the Thing to the keeper with
      a one-way call, drops its own proxy at once and prints DROPPED; stays
      alive (its broker keeps the forwarded reference in transit) until
      stdin closes.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import sys
import threading
import tracemalloc
from typing import Any

import orb


def announce(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@orb.expose
class Thing:
    def __init__(self, label: str) -> None:
        self.label = label

    def ping(self) -> str:
        return self.label


@orb.expose
class Factory:
    def make(self, label: str) -> Thing:
        return Thing(label)

    def make_many(self, count: int) -> list:
        return [Thing(str(i)) for i in range(count)]


@orb.expose
class Probe:
    """Lets a test look inside the server process."""

    def __init__(self, broker: orb.ORB) -> None:
        self._broker = broker

    def state(self) -> dict[str, Any]:
        """Objects, lease records and traced memory, measured after a full collection."""
        gc.collect()
        stats = self._broker.stats()
        leases = self._broker._collector._leases.stats(0.0)
        current, _ = tracemalloc.get_traced_memory()
        return {
            "objects": stats["objects"],
            "lease_records": leases["tracked"],
            "holders": stats["dgc"]["holders"],
            "counts": stats["dgc"]["counts"],
            "traced_bytes": current,
        }


def serve(options: argparse.Namespace) -> None:
    tracemalloc.start()
    config = orb.Config(dgc=orb.DGCConfig(lease=options.lease, sweep_interval=options.sweep))
    broker = orb.ORB(listen=options.listen or "tcp://127.0.0.1:0", config=config)
    uris = {
        "factory": str(broker.export(Factory(), object_id="factory")),
        "probe": str(broker.export(Probe(broker), object_id="probe")),
    }
    threading.Thread(target=_close_on_eof, args=(broker,), daemon=True).start()
    announce(json.dumps({"orb_id": broker.orb_id.hex(), "uris": uris}))
    broker.serve_forever()


def client(options: argparse.Namespace) -> None:
    broker = orb.ORB(lease=options.lease)
    thing = broker.proxy(options.uris[0]).make("held by a client process")
    thing.ping()
    announce(json.dumps(
        {"orb_id": broker.orb_id.hex(), "object_id": orb.ref(thing).object_id}
    ))
    _close_on_eof(broker)


def forwarder(options: argparse.Namespace) -> None:
    broker = orb.ORB(lease=options.lease)
    announce(json.dumps({"orb_id": broker.orb_id.hex()}))
    thing = broker.proxy(options.uris[0]).make("forwarded")
    keeper = broker.proxy(options.uris[1])
    keep = keeper.keep  # fetches the interface now
    announce("READY")
    sys.stdin.readline()
    keep(thing)  # a one-way call: returns once sent
    del thing, keep
    gc.collect()
    announce("DROPPED")
    _close_on_eof(broker)


def _close_on_eof(broker: orb.ORB) -> None:
    sys.stdin.read()
    broker.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["server", "client", "forwarder"])
    parser.add_argument("uris", nargs="*")
    parser.add_argument("--lease", type=float, default=1.0)
    parser.add_argument("--sweep", type=float, default=None)
    parser.add_argument("--listen", default=None)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    {"server": serve, "client": client, "forwarder": forwarder}[options.role](options)


if __name__ == "__main__":
    main()
