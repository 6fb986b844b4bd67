"""The ticker demo's feed: a market whose quotes stream to ``async for`` subscribers.

``python feed.py``. An ``orb.aio`` broker on a free loopback port exports a
:class:`Market`. Its prices move on every tick (every 50 ms); each
subscription is an async generator on the broker's event loop, so
thousands of them cost one coroutine each, not one thread each. Prints
the market's URI and ``ready``; stops when its standard input closes.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator
from typing import Any

import orb
import orb.aio

TICK = 0.05  # seconds between price moves
SYMBOLS = ("ORB", "PYRO", "RPYC", "RMI")


@orb.expose
class Market:
    """Prices that move on every tick, streamed to subscribers."""

    def __init__(self) -> None:
        self._random = random.Random(7)
        self.prices = dict.fromkeys(SYMBOLS, 100.0)
        self.tick = 0
        self._next: asyncio.Future[int] | None = None
        self.active = 0
        self.peak = 0
        self.subscriptions = 0
        self.quotes = 0

    async def run(self) -> None:
        """Move the prices once per tick, forever (a task on the broker's loop)."""
        loop = asyncio.get_running_loop()
        self._next = loop.create_future()
        while True:
            await asyncio.sleep(TICK)
            for symbol in SYMBOLS:
                self.prices[symbol] = round(self.prices[symbol] * self._random.uniform(0.99, 1.01), 2)
            self.tick += 1
            ticked, self._next = self._next, loop.create_future()
            ticked.set_result(self.tick)

    async def subscribe(self, symbol: str, count: int | None = None) -> AsyncIterator[dict[str, Any]]:
        """Quotes for ``symbol``, one per tick from now on: ``count`` of them, or until closed.

        A subscriber that falls behind skips to the latest price rather
        than piling up old ones: the stream's flow control pauses this
        generator while the subscriber has not caught up.
        """
        if symbol not in self.prices:
            raise LookupError(f"no such symbol {symbol!r}; try one of {', '.join(SYMBOLS)}")
        self.active += 1
        self.subscriptions += 1
        self.peak = max(self.peak, self.active)
        try:
            sent = 0
            while count is None or sent < count:
                assert self._next is not None
                # shield: a closed subscription cancels this generator, not the shared tick
                tick = await asyncio.shield(self._next)
                yield {"symbol": symbol, "tick": tick, "price": self.prices[symbol]}
                sent += 1
                self.quotes += 1
        finally:
            self.active -= 1  # also when the subscriber closed the stream early

    async def stats(self) -> dict[str, int]:
        """Subscriptions now, at the peak and in all, quotes sent, and the tick."""
        return {"active": self.active, "peak": self.peak, "subscriptions": self.subscriptions,
                "quotes": self.quotes, "tick": self.tick}


#: Every open subscription is an open stream on its connection, and a
#: broker refuses streams beyond ``Limits.max_streams`` per connection
#: (1024 by default). The demo's subscribers share one connection and
#: keep 2,000 subscriptions open at once: the feed raises that bound.
LIMITS = orb.Limits(max_streams=4096)


async def main() -> int:
    async with orb.aio.ORB(listen="tcp://127.0.0.1:0", limits=LIMITS) as broker:
        market = Market()
        ticking = asyncio.create_task(market.run())
        print(broker.export(market), flush=True)
        print("ready", flush=True)
        # Serve until the demo closes our standard input.
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        ticking.cancel()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
