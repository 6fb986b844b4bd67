"""Streaming: servant iterators reach the caller lazily, in batches, under credit."""

from __future__ import annotations

import asyncio
import gc

import pytest

import orb
import orb.aio
from orb._streams import INITIAL_CREDIT

from ._support import LOOP_READS, Producer, awaiting_broker, run, wait_until


def test_a_generator_streams_every_item(server: orb.ORB, client: orb.ORB) -> None:
    producer = Producer()
    proxy = client.proxy(server.export(producer))
    stream = proxy.numbers(1000)
    assert isinstance(stream, orb.Stream)
    assert list(stream) == list(range(1000))
    assert producer.closed.wait(5)
    assert list(iter(proxy)) == ["x", "y", "z"]  # __iter__ streams too
    assert list(proxy.mapped(3)) == ["0", "1", "2"]  # any iterator does


def test_items_come_in_batches_ahead_of_the_consumer(server: orb.ORB, client: orb.ORB) -> None:
    producer = Producer()
    proxy = client.proxy(server.export(producer))
    stream = proxy.numbers(10_000)
    assert next(stream) == 0
    # One request brought many items: the producer ran ahead, up to the credit.
    wait_until(lambda: producer.counted() == INITIAL_CREDIT, what="a full first window")
    stream.close()


def test_the_producer_pauses_for_a_slow_consumer(server: orb.ORB, client: orb.ORB) -> None:
    producer = Producer()
    proxy = client.proxy(server.export(producer))
    consumed = 0
    with proxy.numbers(5 * INITIAL_CREDIT) as stream:
        for item in stream:
            assert item == consumed
            consumed += 1
            if consumed % 50 == 1:
                # Let the producer run as far ahead as it can, then check it stopped
                # at the window: nothing is consumed (no credit is granted) meanwhile.
                ahead = min(consumed + INITIAL_CREDIT // 2, 5 * INITIAL_CREDIT)
                wait_until(lambda ahead=ahead: producer.counted() >= ahead)
                for _ in range(3):  # round trips on the same connection take time
                    assert producer.counted() - consumed <= INITIAL_CREDIT
            assert producer.counted() - consumed <= INITIAL_CREDIT
    assert consumed == 5 * INITIAL_CREDIT


def test_closing_the_consumer_early_closes_the_generator(server: orb.ORB, client: orb.ORB) -> None:
    producer = Producer()
    proxy = client.proxy(server.export(producer))
    stream = proxy.numbers(1_000_000)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    assert producer.closed.wait(5)  # the generator's finally ran
    with pytest.raises(StopIteration):
        next(stream)
    assert producer.counted() <= 3 + INITIAL_CREDIT
    assert proxy.counted() == producer.produced  # the connection is fine


def test_leaving_with_or_dropping_the_stream_stops_the_producer(
    server: orb.ORB, client: orb.ORB
) -> None:
    producer = Producer()
    proxy = client.proxy(server.export(producer))
    with proxy.numbers(1_000_000) as stream:
        next(stream)
    assert producer.closed.wait(5)
    producer.closed.clear()
    for item in proxy.numbers(1_000_000):
        if item == 5:
            break  # the iterator is garbage now
    gc.collect()
    assert producer.closed.wait(5)


def test_an_error_mid_stream_comes_after_the_good_items(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Producer()))
    stream = proxy.failing(3)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="after 3") as caught:
        next(stream)
    assert "in failing" in str(caught.value.remote_traceback)
    with pytest.raises(StopIteration):
        next(stream)
    early = proxy.failing_at_once()  # the call itself succeeds, like a local generator
    with pytest.raises(ValueError, match="before the first item"):
        next(early)


def test_large_items_are_split_into_frames(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Producer()))
    chunks = list(proxy.chunks(40, 100_000))
    assert [len(c) for c in chunks] == [100_000] * 40
    assert [c[0] for c in chunks] == list(range(40))


def test_slow_producer_items_are_not_held_back(server: orb.ORB, client: orb.ORB) -> None:
    producer = Producer()
    proxy = client.proxy(server.export(producer), timeout=5)
    stream = proxy.slow(3)  # returns although no item exists yet
    for expected in range(3):
        producer.gate.set()
        assert next(stream) == expected  # a batch of one goes out without waiting for more
    assert list(stream) == []


def test_streamed_objects_arrive_as_proxies(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Producer()))
    workers = list(proxy.workers(3))
    assert all(isinstance(w, orb.Proxy) for w in workers)
    assert [w.echo(i) for i, w in enumerate(workers)] == [0, 1, 2]


def test_the_call_context_is_visible_inside_the_generator(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Producer()))
    assert list(proxy.caller()) == ["caller"]


def test_broken_connection_ends_the_stream_with_an_error(client: orb.ORB) -> None:
    server = orb.ORB(listen="tcp://127.0.0.1:0")
    producer = Producer()
    proxy = client.proxy(server.export(producer))
    stream = proxy.numbers(1_000_000)
    assert next(stream) == 0
    server.close()
    assert producer.closed.wait(5)  # the producer side stopped too
    with pytest.raises(orb.CommunicationError):
        for _ in stream:  # the items that arrived before, then the error
            pass


@LOOP_READS
def test_async_generator_streams_to_async_for(
    server: orb.ORB, client: orb.ORB, loop_reads: bool
) -> None:
    producer = Producer()
    uri = str(server.export(producer))

    async def main() -> None:
        async with awaiting_broker(client, loop_reads) as broker:
            proxy = await orb.aio.proxy(uri, broker=broker)
            stream = await proxy.ticks(500)
            assert isinstance(stream, orb.aio.AsyncStream)
            assert [i async for i in stream] == list(range(500))
            assert [i async for i in await proxy.numbers(300)] == list(range(300))  # plain
            assert [i async for i in proxy] == ["x", "y", "z"]

    run(main())
    assert producer.closed.wait(5)


@LOOP_READS
def test_leaving_async_for_early_cancels_the_async_generator(
    server: orb.ORB, client: orb.ORB, loop_reads: bool
) -> None:
    producer = Producer()
    uri = str(server.export(producer))

    async def main() -> None:
        async with awaiting_broker(client, loop_reads) as broker:
            proxy = await orb.aio.proxy(uri, broker=broker)
            async with await proxy.endless() as stream:
                async for item in stream:
                    if item == 10:
                        break
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, producer.closed.wait, 5)

    run(main())


def test_blocking_client_reads_an_async_generator(server: orb.ORB, client: orb.ORB) -> None:
    producer = Producer()
    proxy = client.proxy(server.export(producer))
    assert list(proxy.ticks(200)) == list(range(200))
    endless = proxy.endless()
    assert [next(endless) for _ in range(5)] == list(range(5))
    endless.close()
    assert producer.closed.wait(5)


@LOOP_READS
def test_async_consumer_of_a_slow_producer_is_paused_by_credit(
    server: orb.ORB, client: orb.ORB, loop_reads: bool
) -> None:
    producer = Producer()
    uri = str(server.export(producer))

    async def main() -> None:
        async with awaiting_broker(client, loop_reads) as broker:
            proxy = await orb.aio.proxy(uri, broker=broker)
            loop = asyncio.get_running_loop()
            consumed = 0
            async for _ in await proxy.ticks(3 * INITIAL_CREDIT):
                consumed += 1
                if consumed == 1:
                    await loop.run_in_executor(
                        None, lambda: wait_until(lambda: producer.produced == INITIAL_CREDIT)
                    )
                    assert await proxy.counted() == INITIAL_CREDIT  # paused at the window
                assert producer.produced - consumed <= INITIAL_CREDIT
            assert consumed == 3 * INITIAL_CREDIT

    run(main())


def test_async_methods_may_return_iterators(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Producer()))
    # A plain iterator is pulled on worker threads, never on the event loop.
    assert list(proxy.later_iterator(3)) == ["0 True", "1 True", "2 True"]
    assert list(proxy.later_ticks(100)) == list(range(100))
