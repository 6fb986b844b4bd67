"""A client-only process: subscribes a callback object, then makes a call that blocks.

Usage: client.py URI

Prints one JSON line with its ORB id, subscribes a Listener with
``subscribe(listener)`` on the object at URI, prints SUBSCRIBED, then calls
``hold()`` and waits for it until killed (or until its stdin closes).
"""

from __future__ import annotations

import json
import logging
import sys
import threading

import orb
from servants import announce


@orb.expose
class Listener:
    def hear(self, message: str) -> str:
        return f"heard {message}"


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    broker = orb.ORB()
    threading.Thread(target=_exit_on_eof, daemon=True).start()
    announce(json.dumps({"orb_id": broker.orb_id.hex()}))
    remote = broker.proxy(sys.argv[1])
    listener = Listener()
    remote.subscribe(listener)
    announce("SUBSCRIBED")
    remote.hold()


def _exit_on_eof() -> None:
    sys.stdin.read()
    import os

    os._exit(0)


if __name__ == "__main__":
    main()
