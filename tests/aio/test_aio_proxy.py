"""orb.aio proxies: awaited calls from a running event loop over real loopback sockets."""

from __future__ import annotations

import asyncio
import threading

import pytest
from orb.naming import NAMING_OBJECT_ID, NamingService

import orb
import orb.aio

from ._support import LOOP_READS, Worker, awaiting_broker, run


def test_awaited_call_does_not_block_the_loop(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    uri = str(server.export(worker))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            if ticks == 5:
                worker.release.set()  # only a running loop gets here: lets hold() return
            await asyncio.sleep(0.01)

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client)
        ticking = asyncio.create_task(ticker())
        try:
            assert await proxy.hold() is True
        finally:
            ticking.cancel()
        assert ticks >= 5

    run(main())


def test_results_errors_properties_and_oneway(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    uri = str(server.export(worker))

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client)
        assert isinstance(proxy, orb.aio.Proxy)
        assert await proxy.echo({"a": (1, 2)}) == {"a": (1, 2)}
        with pytest.raises(ValueError, match="no luck") as caught:
            await proxy.fail("no luck")
        assert "in fail" in str(caught.value.remote_traceback)
        assert await proxy.size == 3
        await orb.aio.set_property(proxy, "size", 7)
        assert await orb.aio.get_property(proxy, "size") == 7
        with pytest.raises(AttributeError, match="set_property"):
            proxy.size = 8
        assert await proxy.note("noted") is None
        assert await proxy.echo("after") == "after"  # same connection: the note came first
        assert worker.finished == ["noted"]

    run(main())


def test_operators_that_would_block_are_refused(server: orb.ORB, client: orb.ORB) -> None:
    uri = str(server.export(Worker()))

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client)
        with pytest.raises(TypeError, match="orb.aio.invoke"):
            len(proxy)
        with pytest.raises(TypeError, match="async for"):
            iter(proxy)
        assert bool(proxy) is True
        assert "orb.aio" in repr(proxy)

    run(main())


def test_a_proxy_returned_by_an_awaited_call_is_awaitable(server: orb.ORB, client: orb.ORB) -> None:
    uri = str(server.export(Worker()))

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client)
        other = await proxy.make_worker()
        assert isinstance(other, orb.aio.Proxy)
        assert await other.echo(5) == 5
        back = await proxy.echo(other)  # an aio proxy travels by reference too
        assert isinstance(back, orb.aio.Proxy)
        assert back == other

    run(main())


def test_dynamic_twins_invoke_and_describe(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    uri = str(server.export(worker))

    async def main() -> None:
        assert await orb.aio.invoke(uri, "echo", 4) == 4
        assert await orb.aio.invoke(worker, "aecho", 5) == 5  # a local object
        assert await orb.aio.invoke(uri, "note", "dyn") is None
        interface = await orb.aio.describe(uri)
        assert interface.type_name.endswith("Worker")
        assert interface.method("aecho") is not None
        assert (await orb.aio.describe(Worker)).type_name == interface.type_name

    with orb.ORB() as newest:  # the default broker for URIs
        run(main())
        assert newest.stats()["connections"]
    assert "dyn" in worker.finished


def test_resolve_twin_finds_a_bound_name() -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as naming_broker:
        naming_broker.export(NamingService(), object_id=NAMING_OBJECT_ID)
        address = naming_broker.endpoints[0].split("://", 1)[1]
        with orb.ORB(listen="tcp://127.0.0.1:0", naming=address) as server:
            server.export(Worker(), name="aio/worker")

            async def main() -> None:
                proxy = await orb.aio.resolve("aio/worker", naming=address)
                assert isinstance(proxy, orb.aio.Proxy)
                assert await proxy.aecho("found") == "found"

            with orb.ORB():  # the default broker, so the object is remote to it
                run(main())


def test_many_concurrent_calls_share_one_connection() -> None:
    limits = orb.Limits(max_pending=8)  # fewer slots than calls: coroutines queue for them
    with orb.ORB(listen="tcp://127.0.0.1:0") as server, orb.ORB(limits=limits) as client:
        uri = str(server.export(Worker()))

        async def main() -> None:
            proxy = await orb.aio.proxy(uri, broker=client)
            results = await asyncio.gather(
                *[proxy.echo(i) for i in range(300)], *[proxy.aecho(i) for i in range(300)]
            )
            assert results == list(range(300)) * 2

        run(main())
        assert len(client.stats()["connections"]) == 1


def test_timeout_raises_orb_timeout_error(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    uri = str(server.export(worker))

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client, timeout=0.2)
        with pytest.raises(orb.TimeoutError):
            await proxy.hold()
        with orb.aio.call_timeout(0.1), pytest.raises(TimeoutError):
            await proxy.asleep(5)
        worker.release.set()
        assert await proxy.echo("still fine") == "still fine"

    run(main())


def test_async_with_broker_lifecycle() -> None:
    async def main() -> orb.aio.ORB:
        async with orb.aio.ORB(listen="tcp://127.0.0.1:0") as server:
            uri = str(server.export(Worker()))
            async with orb.aio.ORB() as client:
                proxy = await orb.aio.proxy(uri, broker=client)
                assert await proxy.aecho("in") == "in"
            assert client.closed
        return server

    server = run(main())
    assert server.closed
    assert not [t for t in threading.enumerate() if t.name.startswith("orb-loop")]


def test_serve_forever_returns_when_closed() -> None:
    async def main() -> None:
        async with orb.aio.ORB(listen="tcp://127.0.0.1:0") as server:
            serving = asyncio.create_task(server.serve_forever())
            await asyncio.sleep(0)
            assert not serving.done()
            await server.aclose()
            await asyncio.wait_for(serving, 5)

    run(main())


@LOOP_READS
def test_connection_lost_fails_the_awaited_calls(client: orb.ORB, loop_reads: bool) -> None:
    server = orb.ORB(listen="tcp://127.0.0.1:0")
    worker = Worker()
    uri = str(server.export(worker))

    async def main() -> None:
        async with awaiting_broker(client, loop_reads) as broker:
            proxy = await orb.aio.proxy(uri, broker=broker)
            waiting = [asyncio.create_task(proxy.asleep(10)) for _ in range(3)]
            loop = asyncio.get_running_loop()
            assert await loop.run_in_executor(None, worker.started.wait, 5)
            await loop.run_in_executor(None, server.close)
            for task in waiting:
                with pytest.raises(orb.CommunicationError):
                    await task

    try:
        run(main())
    finally:
        server.close()


def test_calls_queued_for_a_slot_time_out_or_cancel_cleanly() -> None:
    limits = orb.Limits(max_pending=2)
    with orb.ORB(listen="tcp://127.0.0.1:0") as server, orb.ORB(limits=limits) as client:
        worker = Worker()
        uri = str(server.export(worker))

        async def main() -> None:
            proxy = await orb.aio.proxy(uri, broker=client)
            holding = [asyncio.create_task(proxy.hold()) for _ in range(2)]  # both slots
            await asyncio.sleep(0)
            with orb.aio.call_timeout(0.2), pytest.raises(orb.TimeoutError):
                await proxy.echo("queued, never sent")
            queued = asyncio.create_task(proxy.echo("cancelled while queued"))
            await asyncio.sleep(0)
            queued.cancel()
            waiting = asyncio.create_task(proxy.echo("waits its turn"))
            await asyncio.sleep(0)
            assert not waiting.done()
            worker.release.set()
            assert await asyncio.gather(*holding) == [True, True]
            assert await waiting == "waits its turn"
            # Every slot came back: a full window of calls still goes through.
            assert await asyncio.gather(*[proxy.echo(i) for i in range(10)]) == list(range(10))

        run(main())
