"""A server process that exports objects by name in a naming service.

Usage: naming_binder.py [--naming HOST:PORT] [--listen ENDPOINT] [--insecure] [--metadata JSON] NAME...

Without --naming its broker looks for the naming service as any broker does
(ORB_NAMING, else mDNS).

Listens on a free loopback port (or ENDPOINT), exports one ``Named`` servant per NAME with
``broker.export(obj, name=NAME, metadata=...)`` (so its broker binds the
name and keeps renewing the lease), prints one JSON line (orb_id, endpoints,
uris by name), then obeys commands on stdin, one per line, answering each
with one line:

* ``unexport NAME`` -> ``unexported NAME``
* ``export NAME``   -> ``exported NAME``
* ``close``         -> closes the broker, prints ``closed`` and exits 0

End of input closes the broker too, so the process never outlives its test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

import orb


@orb.expose
class Named:
    """Answers with the name it was exported under and its process id."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    def pid(self) -> int:
        return os.getpid()


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--naming")
    parser.add_argument("--listen", default="tcp://127.0.0.1:0")
    parser.add_argument("--insecure", action="store_true")
    parser.add_argument("--metadata", default="{}")
    parser.add_argument("names", nargs="*")
    options = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    metadata = json.loads(options.metadata)
    broker = orb.ORB(
        listen=options.listen, naming=options.naming, timeout=10, insecure=options.insecure or None
    )
    servants: dict[str, Named] = {}
    uris = {}
    for name in options.names:
        servants[name] = Named(name)
        uris[name] = str(broker.export(servants[name], name=name, metadata=metadata))
    say(json.dumps({"orb_id": broker.orb_id.hex(), "endpoints": list(broker.endpoints), "uris": uris}))
    for line in sys.stdin:
        command, _, name = line.strip().partition(" ")
        if command == "unexport":
            broker.unexport(servants.pop(name))
            say(f"unexported {name}")
        elif command == "export":
            servants[name] = Named(name)
            broker.export(servants[name], name=name, metadata=metadata)
            say(f"exported {name}")
        elif command == "close":
            break
        else:
            say(f"unknown command {command!r}")
    broker.close()
    say("closed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
