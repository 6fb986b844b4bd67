"""Objects served to the ``orb`` command by tests/cli/server.py."""

from __future__ import annotations

import threading
from typing import Any

import orb


class CalculatorError(Exception):
    """An application error with no counterpart on the client (arrives as orb.RemoteError)."""


@orb.expose
class Calculator:
    """Adds and divides numbers, and keeps a running total."""

    def __init__(self) -> None:
        self._total = 0
        self._never = threading.Event()

    def add(self, a: int, b: int) -> int:
        """Return a + b and add it to the total."""
        self._total += a + b
        return a + b

    def divide(self, a: float, b: float) -> float:
        """Return a / b."""
        return a / b

    def fail(self, message: str) -> None:
        """Raise CalculatorError(message)."""
        raise CalculatorError(message)

    def echo(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Return the arguments as received."""
        return {"args": args, "kwargs": kwargs}

    def wait(self, seconds: float) -> str:
        """Take ``seconds`` to answer."""
        self._never.wait(seconds)
        return "waited"

    @orb.oneway
    def reset(self) -> None:
        """Set the total back to zero."""
        self._total = 0

    @property
    def total(self) -> int:
        """Sum of every add() result since the last reset()."""
        return self._total


@orb.expose
class Vault:
    """Refuses everyone."""

    def open(self, code: str) -> str:
        """Open the vault (never: the code is always wrong)."""
        raise orb.AccessDenied(f"code {code!r} does not open this vault")


@orb.expose
class Room:
    """A chat room."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def post(self, text: str) -> int:
        """Add a message; returns how many there are."""
        self.messages.append(text)
        return len(self.messages)
