"""The chat demo's room server: one room, bound in the naming service, over mutual TLS.

``python room.py --tls-cert server.pem --tls-key server.key --tls-ca ca.pem``
(the options of every orb command; ``orb certs`` makes the files). It
listens on a free loopback ``tls://`` port, refuses clients without a
certificate signed by the CA, binds the room as ``chat/lobby`` in the naming
service it finds by mDNS, prints ``ready`` and serves until its standard
input closes.

Who said what comes from the caller's certificate
(``orb.current().peer.identity``), never from an argument a client could
fake.
"""

from __future__ import annotations

import argparse
import sys
import threading
from typing import Any

from orb.security import add_tls_arguments, tls_from_args

import orb

HISTORY = 20  # messages a member who joins gets to read back


def caller() -> str:
    """The certificate name of the member calling (mutual TLS: there always is one)."""
    return orb.current().peer.identity.common_name


@orb.expose
class Room:
    """A chat room: members join with a callback object and hear every message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._members: dict[str, Any] = {}  # certificate name -> the member's callback proxy
        self._history: list[tuple[str, str]] = []

    def join(self, member: Any) -> dict[str, Any]:
        """Join with ``member`` (an object with hear() and notice()); who is here and what was said."""
        name = caller()
        with self._lock:
            self._members[name] = member  # a proxy: calls on it go back over the member's connection
            history = list(self._history)
        self._notice(f"{name} joined", skip=name)
        return {"you": name, "members": self.members(), "history": history}

    def say(self, text: str) -> None:
        """Send ``text`` to everyone in the room, signed with the caller's certificate name."""
        name = caller()
        with self._lock:
            if name not in self._members:
                raise PermissionError(f"{name} has not joined this room")
            self._history = [*self._history, (name, text)][-HISTORY:]
        self._send("hear", name, text)

    def leave(self) -> None:
        """Leave the room."""
        name = caller()
        with self._lock:
            self._members.pop(name, None)
        self._notice(f"{name} left")

    def members(self) -> list[str]:
        """Who is in the room."""
        with self._lock:
            return sorted(self._members)

    def _notice(self, text: str, skip: str | None = None) -> None:
        self._send("notice", text, skip=skip)

    def _send(self, method: str, *args: str, skip: str | None = None) -> None:
        with self._lock:
            members = [(n, m) for n, m in self._members.items() if n != skip]
        gone = []
        for name, member in members:
            try:
                getattr(member, method)(*args)  # a call back into the member's process
            except orb.CommunicationError:  # timed out too (orb.TimeoutError)
                gone.append(name)  # its process went away without leaving
        for name in gone:
            with self._lock:
                self._members.pop(name, None)
            self._notice(f"{name} was disconnected")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tls_arguments(parser)
    tls = tls_from_args(parser.parse_args(argv))
    # A member that stops answering holds up a message for at most `timeout` seconds.
    with orb.ORB(listen="tls://127.0.0.1:0", tls=tls, timeout=5.0) as broker:
        ref = broker.export(Room(), name="chat/lobby")
        print(f"room chat/lobby at {ref}", flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # serve until the demo closes our standard input
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
