"""The dgc demo's server: a library that lends out sessions.

``python server.py LEASE``. Its broker grants DGC leases of LEASE seconds.
The :class:`Library` is exported explicitly (pinned: never collected);
every :class:`Session` it returns is exported implicitly, on the fly, and
lives only as long as some client holds a proxy to it. The server prints
the library's URI and ``ready``, then one line each time a session is
collected, and stops when its standard input closes.
"""

from __future__ import annotations

import sys
from typing import Any

import orb


@orb.expose
class Session:
    """Something a client holds: it exists for as long as a proxy to it does."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.reads = 0

    def read(self) -> str:
        """Answer with the session's label and how often it was read."""
        self.reads += 1
        return f"session {self.label}, read {self.reads} time(s)"

    def __orb_unreferenced__(self) -> None:
        # Called once by the distributed GC after it unexported the session,
        # on a worker thread: one write per line keeps lines whole.
        sys.stdout.write(f"[server] session {self.label} collected: no client holds it any more\n")
        sys.stdout.flush()


@orb.expose
class Library:
    """Lends out sessions."""

    def __init__(self) -> None:
        self._opened: dict[str, int] = {}

    def open(self, client: str) -> Session:
        """A new session for ``client``, returned by reference (exported on the fly)."""
        number = self._opened[client] = self._opened.get(client, 0) + 1
        return Session(f"{client}-{number}")

    def stats(self) -> dict[str, Any]:
        """This server's ``broker.stats()``."""
        return orb.current().broker.stats()


def main(argv: list[str]) -> int:
    lease = float(argv[0]) if argv else 2.0
    with orb.ORB(listen="tcp://127.0.0.1:0", lease=lease) as broker:
        print(broker.export(Library()), flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # serve until the demo closes our standard input
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
