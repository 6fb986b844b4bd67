"""A server process: exports the servants, prints one JSON line, serves until killed.

Usage: server.py [--listen ENDPOINT ...]

The JSON line has the ORB id, its endpoints and the URI of each object.
Objects have fixed ids ("calc", "relay"), so a restarted server on the same
port serves the same URIs. The process also exits when its stdin closes,
so it never outlives the test that started it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading

import orb
from servants import Calculator, Relay, announce


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", action="append", default=[])
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    broker = orb.ORB(listen=options.listen or ["tcp://127.0.0.1:0"])
    uris = {
        "calc": str(broker.export(Calculator(), object_id="calc")),
        "relay": str(broker.export(Relay(), object_id="relay")),
    }
    threading.Thread(target=_close_on_eof, args=(broker,), daemon=True).start()
    announce(json.dumps(
        {"orb_id": broker.orb_id.hex(), "endpoints": list(broker.endpoints), "uris": uris}
    ))
    broker.serve_forever()


def _close_on_eof(broker: orb.ORB) -> None:
    sys.stdin.read()
    broker.close()


if __name__ == "__main__":
    main()
