"""Open streams are bounded by Limits.max_streams, apart from calls in flight (max_pending)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

import orb
import orb.aio

from ._support import Producer, run

LIMIT_MESSAGE = r"too many open streams on this connection \(limit 3, Limits.max_streams\)"


class Closable:
    """A class-based iterator: orb closes it through its ``close`` method."""

    def __init__(self, closed: threading.Event) -> None:
        self._closed = closed
        self._next = 0

    def __iter__(self) -> Closable:
        return self

    def __next__(self) -> int:
        self._next += 1
        return self._next

    def close(self) -> None:
        self._closed.set()


@orb.expose
class Streams(Producer):
    """Producer's generators, and a few more ways for a stream to begin and end."""

    def __init__(self) -> None:
        super().__init__()
        self.started = 0  # bodies of counting() and acounting() that began to run
        self.iterator_closed = threading.Event()
        self.release = threading.Event()

    def echo(self, value: Any) -> Any:
        return value

    def counting(self, count: int) -> Iterator[int]:
        self.started += 1
        yield from range(count)

    async def acounting(self, count: int) -> AsyncIterator[int]:
        self.started += 1
        for i in range(count):
            yield i

    def closable(self) -> Closable:
        return Closable(self.iterator_closed)

    def late(self) -> Closable:
        """Returns its iterator only once the test releases it."""
        self.release.wait(5)
        return Closable(self.iterator_closed)

    def paced(self, count: int, delay: float) -> Iterator[int]:
        """A producer slower than the connection's idle timeout."""
        for i in range(count):
            time.sleep(delay)
            yield i


def _server(**limits: Any) -> orb.ORB:
    return orb.ORB(listen="tcp://127.0.0.1:0", limits=orb.Limits(**limits))


def test_open_streams_do_not_count_as_calls_in_flight(client: orb.ORB) -> None:
    with _server(max_pending=4) as server:
        proxy = client.proxy(server.export(Streams()), timeout=5)
        opened = [proxy.numbers(200) for _ in range(10)]  # more streams than max_pending
        assert [next(stream) for stream in opened] == [0] * 10
        assert [proxy.echo(i) for i in range(8)] == list(range(8))  # plain calls still run
        assert [list(stream) for stream in opened] == [list(range(1, 200))] * 10


def test_open_async_streams_do_not_count_as_calls_in_flight(client: orb.ORB) -> None:
    with _server(max_pending=4) as server:
        uri = str(server.export(Streams()))

        async def drain(stream: orb.aio.AsyncStream) -> list[int]:
            return [item async for item in stream]

        async def main() -> None:
            proxy = await orb.aio.proxy(uri, broker=client)
            opened = [await proxy.ticks(100) for _ in range(10)]  # async generators
            opened += [await proxy.numbers(100) for _ in range(10)]  # plain ones
            assert await asyncio.gather(*(proxy.echo(i) for i in range(4))) == [0, 1, 2, 3]
            assert await asyncio.gather(*map(drain, opened)) == [list(range(100))] * 20

        run(main())


def test_a_stream_beyond_max_streams_is_refused_and_the_others_go_on(client: orb.ORB) -> None:
    with _server(max_streams=3) as server:
        streams = Streams()
        proxy = client.proxy(server.export(streams), timeout=5)
        opened = [proxy.numbers(500) for _ in range(3)]
        assert [next(stream) for stream in opened] == [0, 0, 0]

        with pytest.raises(orb.CommunicationError, match=LIMIT_MESSAGE):
            proxy.closable()
        assert streams.iterator_closed.is_set()  # closed before the refusal was sent
        with pytest.raises(orb.CommunicationError, match=LIMIT_MESSAGE):
            proxy.counting(5)
        with pytest.raises(orb.CommunicationError, match=LIMIT_MESSAGE):
            proxy.acounting(5)
        assert streams.started == 0  # no refused generator ran a line of its body

        assert proxy.echo("plain") == "plain"  # the connection is undisturbed
        assert [list(stream) for stream in opened[1:]] == [list(range(1, 500))] * 2
        assert list(proxy.counting(3)) == [0, 1, 2]  # two open now: room for one more

        streams.closed.clear()
        opened[0].close()
        assert streams.closed.wait(5)  # that generator's finally ran
        assert [list(proxy.counting(2)) for _ in range(3)] == [[0, 1]] * 3


def test_an_async_caller_is_refused_the_same_way(client: orb.ORB) -> None:
    with _server(max_streams=3) as server:
        streams = Streams()
        uri = str(server.export(streams))

        async def main() -> None:
            proxy = await orb.aio.proxy(uri, broker=client)
            opened = [await proxy.endless() for _ in range(3)]
            for stream in opened:
                assert await stream.__anext__() == 0
            with pytest.raises(orb.CommunicationError, match=LIMIT_MESSAGE):
                await proxy.acounting(5)
            with pytest.raises(orb.CommunicationError, match=LIMIT_MESSAGE):
                await proxy.later_ticks(5)  # an async method whose result would stream
            assert streams.started == 0
            assert await proxy.echo(1) == 1
            await opened[0].aclose()
            assert [i async for i in await proxy.acounting(3)] == [0, 1, 2]
            for stream in opened[1:]:
                await stream.aclose()

        run(main())


def test_every_ending_of_a_stream_frees_its_place(client: orb.ORB) -> None:
    with _server(max_streams=1) as server:
        streams = Streams()
        uri = str(server.export(streams))
        proxy = client.proxy(uri, timeout=5)

        # Exhausted, a plain and an async generator.
        for _ in range(3):
            assert list(proxy.counting(3)) == [0, 1, 2]
            assert list(proxy.ticks(3)) == [0, 1, 2]

        # The generator raised, before or after its first item.
        for _ in range(3):
            with pytest.raises(ValueError, match="after 2"):
                list(proxy.failing(2))
            with pytest.raises(ValueError, match="before the first item"):
                list(proxy.failing_at_once())

        # The consumer closed it early.
        for _ in range(3):
            stream = proxy.numbers(1_000_000)
            assert next(stream) == 0
            stream.close()
            endless = proxy.endless()
            assert next(endless) == 0
            endless.close()
        assert list(proxy.counting(1)) == [0]

        # An async consumer was cancelled by a timeout while it waited for items.
        async def main() -> None:
            aproxy = await orb.aio.proxy(uri, broker=client)
            streams.gate.clear()
            for _ in range(3):
                with pytest.raises(TimeoutError):
                    async with asyncio.timeout(0.05):
                        async with await aproxy.slow(1) as stream:
                            await stream.__anext__()  # slow() waits for a gate nobody opens
                assert [i async for i in await aproxy.acounting(2)] == [0, 1]

        run(main())
        streams.gate.set()  # let the slow generators stop


def test_a_stream_that_began_after_its_caller_gave_up_is_closed(client: orb.ORB) -> None:
    with _server(max_streams=1) as server:
        streams = Streams()
        proxy = client.proxy(server.export(streams), timeout=0.2)
        with pytest.raises(orb.TimeoutError):
            proxy.late()  # the caller times out and sends CANCEL
        streams.release.set()  # now the stream begins; nobody consumes it
        # Stopped by the CANCEL, or by the caller when the first items came.
        assert streams.iterator_closed.wait(5)
        assert list(proxy.counting(2)) == [0, 1]  # and its place is free


def test_an_open_stream_keeps_an_idle_connection_open(client: orb.ORB) -> None:
    with _server(idle_timeout=0.3) as server:
        proxy = client.proxy(server.export(Streams()), timeout=5)
        # Nothing travels while the producer takes longer than the idle timeout.
        assert list(proxy.paced(1, 0.8)) == [0]
        assert len(server.stats()["connections"]) == 1


def test_max_streams_is_a_positive_limit_with_a_default() -> None:
    assert orb.Limits().max_streams == 1024
    for bad in (0, -1):
        with pytest.raises(ValueError, match="max_streams must be positive"):
            orb.Limits(max_streams=bad)
