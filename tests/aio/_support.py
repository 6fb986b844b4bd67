"""Servants and helpers shared by the asyncio, futures and streaming tests."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from polling import wait_until  # noqa: F401 - the suite's tests import it from here

import orb
import orb.aio

T = TypeVar("T")

#: Upper bound for any one test's asyncio part.
TEST_TIMEOUT = 8.0


def run(coro: Coroutine[Any, Any, T], timeout: float = TEST_TIMEOUT) -> T:
    """Run ``coro`` in a fresh event loop, failing if it takes longer than ``timeout``."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


#: Runs a test twice: awaiting through a blocking broker, whose reader
#: thread reads the connection, and through an orb.aio.ORB, whose event
#: loop does (orb._loopreading).
LOOP_READS = pytest.mark.parametrize(
    "loop_reads", [False, True], ids=["reader thread", "event loop reads"]
)


@contextlib.asynccontextmanager
async def awaiting_broker(client: orb.ORB, loop_reads: bool) -> AsyncIterator[orb.ORB]:
    """``client``, or with ``loop_reads`` an orb.aio.ORB made in the running loop."""
    if not loop_reads:
        yield client
        return
    async with orb.aio.ORB() as broker:
        yield broker


@orb.expose
class Worker:
    """Plain and async methods side by side, with hooks the tests wait on."""

    def __init__(self) -> None:
        self.release = threading.Event()  # lets hold() return
        self.started = threading.Event()  # set when asleep() begins
        self.cancelled = threading.Event()  # set when an async method sees CancelledError
        self.finished: list[str] = []
        self.threads: dict[str, str] = {}
        self._size = 3

    def echo(self, value: Any) -> Any:
        self.threads["echo"] = threading.current_thread().name
        return value

    def hold(self, timeout: float = 5.0) -> bool:
        """Block (a worker thread) until the test releases it."""
        return self.release.wait(timeout)

    def fail(self, message: str) -> None:
        raise ValueError(message)

    async def aecho(self, value: Any, delay: float = 0.0) -> Any:
        self.threads["aecho"] = threading.current_thread().name
        await asyncio.sleep(delay)
        return value

    async def afail(self, message: str) -> None:
        await asyncio.sleep(0)
        raise ValueError(message)

    async def asleep(self, seconds: float) -> str:
        """Sleep on the event loop; records a cancellation."""
        self.started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        self.finished.append("asleep")
        return "slept"

    async def whoami(self) -> str:
        context = orb.current()
        return f"{context.method} from {context.peer.orb_id.hex()}"

    async def loop_thread(self) -> str:
        return threading.current_thread().name

    def make_worker(self) -> Worker:
        return Worker()

    @property
    def size(self) -> int:
        return self._size

    @size.setter
    def size(self, value: int) -> None:
        self._size = value

    @orb.oneway
    def note(self, text: str) -> None:
        self.finished.append(text)


@orb.expose
class Producer:
    """Generators that record how far they got."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed = threading.Event()  # set by the generators' finally blocks
        self.gate = threading.Event()

    def numbers(self, count: int) -> Iterator[int]:
        try:
            for i in range(count):
                self.produced += 1
                yield i
        finally:
            self.closed.set()

    def counted(self) -> int:
        return self.produced

    def failing(self, good: int) -> Iterator[int]:
        yield from range(good)
        raise ValueError(f"after {good}")

    def failing_at_once(self) -> Iterator[int]:
        raise ValueError("before the first item")
        yield 0  # pragma: no cover

    def chunks(self, count: int, size: int) -> Iterator[bytes]:
        for i in range(count):
            yield bytes([i % 256]) * size

    def slow(self, count: int) -> Iterator[int]:
        """Each item waits for the test to open the gate."""
        for i in range(count):
            self.gate.wait(5)
            self.gate.clear()
            yield i

    def workers(self, count: int) -> Iterator[Worker]:
        for _ in range(count):
            yield Worker()

    def mapped(self, count: int) -> Any:
        return map(str, range(count))

    def caller(self) -> Iterator[str]:
        yield orb.current().method

    async def ticks(self, count: int) -> AsyncIterator[int]:
        try:
            for i in range(count):
                self.produced += 1
                yield i
                await asyncio.sleep(0)
        finally:
            self.closed.set()

    async def endless(self) -> AsyncIterator[int]:
        i = 0
        try:
            while True:
                yield i
                i += 1
                await asyncio.sleep(0.001)
        finally:
            self.closed.set()

    async def later_iterator(self, count: int) -> Iterator[str]:
        """An async method whose result is a plain iterator: streamed from a worker."""
        await asyncio.sleep(0)
        loop_thread = threading.current_thread().name

        def items() -> Iterator[str]:
            for i in range(count):
                yield f"{i} {threading.current_thread().name != loop_thread}"

        return items()

    async def later_ticks(self, count: int) -> AsyncIterator[int]:
        """An async method whose result is an async generator."""
        await asyncio.sleep(0)
        return self.ticks(count)

    def __iter__(self) -> Iterator[str]:
        return iter(["x", "y", "z"])
