"""Servants exported by the peer processes (tests/peers/server.py)."""

from __future__ import annotations

import sys
import threading
from typing import Any

import orb


def announce(line: str) -> None:
    """Tell the test process something happened (one line on stdout)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


@orb.expose
class Calculator:
    """Arithmetic, caller identity and a call that never finishes on its own."""

    def __init__(self) -> None:
        self._release = threading.Event()

    def add(self, a: int, b: int) -> int:
        return a + b

    def whoami(self) -> dict[str, Any]:
        """Who is calling: the caller's ORB id and this ORB's id (hex)."""
        context = orb.current()
        return {"caller": context.peer.orb_id.hex(), "me": context.broker.orb_id.hex()}

    def stuck(self) -> str:
        """Announce STUCK on stdout, then block until the process is killed."""
        announce("STUCK")
        self._release.wait()
        return "released"

    def call_back(self, callback: Any, value: int) -> Any:
        """Call ``callback.called(value)`` over the caller's own connection."""
        return callback.called(value)


@orb.expose
class Relay:
    """Holds a proxy to some other ORB's object and hands it out."""

    def __init__(self) -> None:
        self._held: Any = None

    def hold(self, uri: str) -> str:
        """Make a proxy for ``uri`` (in this process) and keep it."""
        self._held = orb.current().broker.proxy(uri)
        return self._held.whoami()["me"]

    def held(self) -> Any:
        """The proxy kept by :meth:`hold`; it travels as a reference."""
        return self._held
