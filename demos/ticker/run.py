"""A streamed price feed with thousands of asyncio subscribers: ``python demos/ticker/run.py``.

The feed (demos/ticker/feed.py) is an ``orb.aio`` server whose
``subscribe`` method is an async generator. The subscribers process
(demos/ticker/subscribers.py) runs 2,000 subscriber tasks on one event
loop and one connection, each reading its quotes with ``async for``, and
then 500 more that close their streams early. Everything runs on
loopback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demos/: the shared helpers

from _common import Cast, demo_env, run_demo, wait_for
from tourkit import StepFailed, Steps, check

import orb

HERE = Path(__file__).resolve().parent
SUBSCRIBERS = 2000
QUOTES = 10
TIMEOUT = 20.0
RUN_TIMEOUT = 60.0


class Demo:
    def __init__(self) -> None:
        self.cast = Cast(demo_env("ticker"))
        self.uri = ""


stages: Steps[Demo] = Steps()


@stages.add("Start the feed")
def feed(demo: Demo) -> None:
    """The market moves its prices every 50 ms. Market.subscribe(symbol,
    count) is an async generator: called remotely, it streams its quotes
    to the caller, in batches, under flow control. Each subscription is a
    coroutine on the feed's event loop, not a thread."""
    process = demo.cast.start("feed", str(HERE / "feed.py"))
    demo.uri = process.read_until("ready", TIMEOUT)[0]
    print(f"  market at {demo.uri}")


@stages.add(f"{SUBSCRIBERS:,} subscribers in one process")
def subscribers(demo: Demo) -> None:
    """The subscribers process starts one task per subscriber on one event
    loop; all of them share one orb.aio broker and one connection:

        async with await market.subscribe(symbol, 10) as stream:
            async for quote in stream:
                ...

    Then 500 more subscribe with no end and leave their `async with` block
    after three quotes: closing a stream stops its generator on the feed."""
    process = demo.cast.start("subscribers", str(HERE / "subscribers.py"), demo.uri,
                              str(SUBSCRIBERS), str(QUOTES))
    try:
        status = process.popen.wait(RUN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise StepFailed(f"the subscribers did not finish within {RUN_TIMEOUT:.0f} s") from None
    lines = process.drain()
    for line in lines:
        print(f"  {line}")
    check(status == 0, f"the subscribers process exited with status {status}")
    text = "\n".join(lines)
    check(f"{SUBSCRIBERS} subscribers, 1 connection: {SUBSCRIBERS * QUOTES} quotes" in text,
          "every quote should have arrived")
    check(": True; ticks always increasing: True" in text, "no quote missing or out of order")
    check("closed after 3 quotes each: True" in text, "the early closers should get 3 quotes")


@stages.add("The feed's side")
def feed_side(demo: Demo) -> None:
    """The market counted its subscriptions: "peak" is how many were open at
    the same time (nearly all of them: the first ones may finish before
    the last ones start), and none is left open, the early-closed ones
    included (their generators ran their finally blocks)."""
    market = orb.proxy(demo.uri)
    stats = wait_for(lambda: (s := market.stats())["active"] == 0 and s, TIMEOUT,
                     "every subscription to end")
    print("  >>> market.stats()")
    print(f"  {stats}")
    check(stats["peak"] >= SUBSCRIBERS // 2, "most subscriptions should have been open at once")
    check(stats["subscriptions"] == SUBSCRIBERS + 500, "every subscription should be counted")


@stages.add("Stop the feed")
def stop(demo: Demo) -> None:
    """Closing its standard input stops the feed's broker."""
    status = demo.cast["feed"].stop()
    check(status == 0, f"the feed exited with status {status}")
    print(f"  feed stopped cleanly (exit status {status})")


def main() -> int:
    with orb.ORB(timeout=10.0):  # this process's broker, for market.stats()
        return run_demo(
            "orb demo: a streamed ticker",
            """A method that is an async generator streams its items to the
            caller. One client process holds thousands of concurrent
            subscriptions with orb.aio, on a single connection.""",
            stages, Demo(),
            f"{SUBSCRIBERS:,} subscribers read their streams at once, and every stream "
            "ended cleanly.",
        )


if __name__ == "__main__":
    sys.exit(main())
