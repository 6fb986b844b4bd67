"""The objects the tour's server exports.

Plain Python classes made remotely callable with ``@orb.expose``. Nothing
here knows about sockets or processes: orb carries the calls.
"""

from __future__ import annotations

from typing import Any

import orb


class NegativeNumber(ValueError):
    """A number was negative where it may not be (known only to the server)."""


@orb.expose
class Calculator:
    """Arithmetic on the server, with a running total."""

    def __init__(self) -> None:
        self._total = 0.0

    def add(self, a: float, b: float = 1) -> float:
        """Return a + b."""
        return a + b

    def divide(self, a: float, b: float) -> float:
        """Return a / b; dividing by zero raises ZeroDivisionError on the server."""
        return a / b

    def sqrt(self, x: float) -> float:
        """Return the square root of x; raises NegativeNumber when x < 0."""
        if x < 0:
            raise NegativeNumber(f"cannot take the square root of {x}")
        return x**0.5

    def accumulate(self, values: list[float]) -> float:
        """Add every value to the running total and return the new total."""
        self._total += sum(values)
        return self._total

    @property
    def total(self) -> float:
        """The running total."""
        return self._total

    def memory(self) -> Memory:
        """A new memory register, returned by reference (exported on the fly)."""
        return Memory()


@orb.expose
class Memory:
    """A calculator's memory register: lives as long as some client holds it."""

    def __init__(self) -> None:
        self._value = 0.0

    def store(self, value: float) -> None:
        """Remember ``value``."""
        self._value = value

    def recall(self) -> float:
        """The value remembered."""
        return self._value


@orb.expose
class Ticker:
    """Sends numbered ticks to a listener that the caller passes in."""

    def run(self, listener: Any, count: int = 3) -> int:
        """Call ``listener.tick(n, of)`` for n in 1..count and return the sum of its replies.

        ``listener`` arrives here as a proxy: each tick is a call from this
        server back into the caller's process, over the caller's own
        connection.
        """
        return sum(listener.tick(n, count) for n in range(1, count + 1))


@orb.expose
class Inspector:
    """Reports what arrived on the server side."""

    def examine(self, thing: Any) -> dict[str, Any]:
        """Describe the argument as the server sees it, and call it once if it is remote."""
        report: dict[str, Any] = {
            "type": f"{type(thing).__module__}.{type(thing).__qualname__}",
            "is_proxy": isinstance(thing, orb.Proxy),
            "caller": orb.current().peer.address,
        }
        if isinstance(thing, orb.Proxy):
            report["remote_type"] = orb.describe(thing).type_name
            report["greeting"] = thing.greet("server")
        return report

    def echo(self, thing: Any) -> Any:
        """Return the argument unchanged (a proxy goes back to where its object lives)."""
        return thing

    def whoami(self) -> dict[str, Any]:
        """Who the caller is: its address, and its certificate's name over mutual TLS."""
        peer = orb.current().peer
        return {
            "address": peer.address,
            "certificate": peer.identity.common_name if peer.identity is not None else None,
        }

    def objects(self) -> dict[str, Any]:
        """The server's exported objects and its distributed GC counts (from broker.stats())."""
        stats = orb.current().broker.stats()
        counts = stats["dgc"]["counts"]
        return {**stats["objects"], "collected": counts["collected"]}


#: The objects the server exports, by the name the tour uses for them.
SERVICES = {"calculator": Calculator, "ticker": Ticker, "inspector": Inspector}
