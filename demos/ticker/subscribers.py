"""The ticker demo's client: thousands of asyncio subscribers in one process.

``python subscribers.py MARKET_URI COUNT QUOTES``. One ``orb.aio`` broker,
one connection, COUNT subscriber tasks: each awaits
``market.subscribe(symbol, QUOTES)`` and reads its quotes with
``async for``. Then a second wave subscribes with no end and closes each
stream after a few quotes. Prints what it saw; exits 1 if any subscriber
missed a quote or saw ticks out of order.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time

import orb
import orb.aio

SYMBOLS = ("ORB", "PYRO", "RPYC", "RMI")
EARLY_CLOSERS = 500
EARLY_QUOTES = 3


async def subscriber(market: orb.aio.Proxy, symbol: str, quotes: int) -> list[int]:
    """The ticks of the quotes one subscriber received."""
    ticks = []
    async with await market.subscribe(symbol, quotes) as stream:
        async for quote in stream:
            ticks.append(quote["tick"])
    return ticks


async def early_closer(market: orb.aio.Proxy, symbol: str) -> int:
    """Subscribe with no end, take a few quotes and close the stream."""
    received = 0
    async with await market.subscribe(symbol) as stream:  # leaving `async with` closes it
        async for _ in stream:
            received += 1
            if received == EARLY_QUOTES:
                break
    return received


async def main(uri: str, count: int, quotes: int) -> int:
    async with orb.aio.ORB(timeout=30.0) as broker:
        market = await orb.aio.proxy(uri)
        started = time.monotonic()
        results = await asyncio.gather(
            *(subscriber(market, SYMBOLS[i % len(SYMBOLS)], quotes) for i in range(count))
        )
        elapsed = time.monotonic() - started
        total = sum(map(len, results))
        connections = len(broker.stats()["connections"])
        print(f"[subscribers] {count} subscribers, {connections} connection: {total} quotes "
              f"in {elapsed:.1f} s", flush=True)
        complete = all(len(ticks) == quotes for ticks in results)
        ordered = all(a < b for ticks in results for a, b in itertools.pairwise(ticks))
        print(f"[subscribers] every subscriber got {quotes} quotes: {complete}; "
              f"ticks always increasing: {ordered}", flush=True)
        steady = sum(1 for ticks in results if ticks[-1] - ticks[0] == len(ticks) - 1)
        print(f"[subscribers] {steady} saw every tick; {count - steady} fell behind at times "
              "and skipped to the latest price", flush=True)
        closed = await asyncio.gather(
            *(early_closer(market, SYMBOLS[i % len(SYMBOLS)]) for i in range(EARLY_CLOSERS))
        )
        print(f"[subscribers] {len(closed)} open-ended subscriptions closed after "
              f"{EARLY_QUOTES} quotes each: {all(n == EARLY_QUOTES for n in closed)}", flush=True)
        return 0 if complete and ordered else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
