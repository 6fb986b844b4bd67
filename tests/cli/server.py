"""A server process for the CLI tests: binds a few names, prints one JSON line, serves.

Usage: server.py --naming HOST:PORT

Binds ``demo/calc`` (Calculator), ``demo/vault`` (Vault) and
``demo/chat/lobby`` (Room) and prints ``{"uris": {...}}``. It exits when
its stdin closes, so it never outlives the test that started it.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from servants import Calculator, Room, Vault

import orb


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--naming", required=True)
    options = parser.parse_args()
    broker = orb.ORB(listen="tcp://127.0.0.1:0", naming=options.naming)
    uris = {
        name: str(broker.export(servant, name=name))
        for name, servant in [
            ("demo/calc", Calculator()),
            ("demo/vault", Vault()),
            ("demo/chat/lobby", Room()),
        ]
    }
    threading.Thread(target=_close_on_eof, args=(broker,), daemon=True).start()
    print(json.dumps({"uris": uris}), flush=True)
    broker.serve_forever()


def _close_on_eof(broker: orb.ORB) -> None:
    sys.stdin.read()
    broker.close()


if __name__ == "__main__":
    main()
