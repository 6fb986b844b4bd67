"""``async def`` servant methods: where they run, mixing with plain ones, errors, cancellation."""

from __future__ import annotations

import asyncio
import threading

import pytest

import orb
import orb.aio

from ._support import Worker, run, wait_until


def test_async_method_runs_on_the_brokers_loop_thread(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker))
    assert proxy.aecho("hi") == "hi"  # a blocking proxy calls an async method
    assert proxy.echo("plain") == "plain"
    assert worker.threads["aecho"].startswith("orb-loop")
    assert not worker.threads["echo"].startswith("orb-loop")  # plain: a worker or reader thread
    assert proxy.whoami() == f"whoami from {client.orb_id.hex()}"


def test_async_method_runs_on_the_loop_the_aio_broker_was_made_in() -> None:
    async def main() -> None:
        async with orb.aio.ORB(listen="tcp://127.0.0.1:0") as server:
            uri = str(server.export(Worker()))
            async with orb.aio.ORB() as client:
                proxy = await orb.aio.proxy(uri, broker=client)
                assert await proxy.loop_thread() == threading.current_thread().name

    run(main())


def test_async_errors_keep_their_type_and_remote_traceback(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Worker()))
    with pytest.raises(ValueError, match="async trouble") as caught:
        proxy.afail("async trouble")
    remote = str(caught.value.remote_traceback)
    assert "in afail" in remote
    assert "_deferred" not in remote  # orb's own frames are not shown


def test_slow_async_and_plain_methods_do_not_hold_each_other_up(
    server: orb.ORB, client: orb.ORB
) -> None:
    worker = Worker()
    uri = str(server.export(worker))

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client)
        holding = asyncio.create_task(proxy.hold())  # occupies a worker thread
        sleeping = asyncio.create_task(proxy.asleep(0.3))  # occupies the servant loop
        # Both are in flight; fast calls of either kind still answer at once.
        for i in range(20):
            assert await proxy.echo(i) == i
            assert await proxy.aecho(i) == i
        assert not holding.done()
        assert await sleeping == "slept"
        worker.release.set()
        assert await holding is True

    run(main())


def test_many_async_calls_overlap_on_the_loop(server: orb.ORB, client: orb.ORB) -> None:
    uri = str(server.export(Worker()))

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client)
        loop = asyncio.get_running_loop()
        start = loop.time()
        # 50 calls that each sleep 0.2 s on the server's loop finish together.
        assert await asyncio.gather(*[proxy.aecho(i, 0.2) for i in range(50)]) == list(range(50))
        assert loop.time() - start < 0.2 * 10

    run(main())


def test_timeout_cancels_the_async_servant_method(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker), timeout=0.2)
    with pytest.raises(orb.TimeoutError):
        proxy.asleep(10)
    assert worker.cancelled.wait(5)  # the CANCEL reached the task: CancelledError inside
    assert worker.finished == []
    assert proxy.echo("next") == "next"


def test_cancelling_the_awaiting_task_cancels_the_servant(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    uri = str(server.export(worker))

    async def main() -> None:
        proxy = await orb.aio.proxy(uri, broker=client)
        call = asyncio.create_task(proxy.asleep(10))
        loop = asyncio.get_running_loop()
        assert await loop.run_in_executor(None, worker.started.wait, 5)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        assert await loop.run_in_executor(None, worker.cancelled.wait, 5)
        with orb.aio.call_timeout(0.1), pytest.raises(orb.TimeoutError):
            await proxy.asleep(10)  # an awaited call that times out cancels it too

    run(main())


def test_a_cancelled_plain_call_still_runs_and_its_result_is_dropped(
    server: orb.ORB, client: orb.ORB
) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker), timeout=0.1)
    with pytest.raises(orb.TimeoutError):
        proxy.hold()
    worker.release.set()
    with orb.call_timeout(5):
        assert proxy.echo("after") == "after"  # the late reply to hold() was dropped


def test_async_one_way_method_runs(server: orb.ORB, client: orb.ORB) -> None:
    @orb.expose
    class Notes:
        def __init__(self) -> None:
            self.seen: list[str] = []

        @orb.oneway
        async def add(self, text: str) -> None:
            await asyncio.sleep(0)
            self.seen.append(text)

    notes = Notes()
    proxy = client.proxy(server.export(notes))
    proxy.add("one")
    proxy.add("two")
    # One-way calls may run in either order.
    wait_until(lambda: sorted(notes.seen) == ["one", "two"], what="both one-way async calls")


def test_broker_close_cancels_running_async_methods(client: orb.ORB) -> None:
    server = orb.ORB(listen="tcp://127.0.0.1:0")
    worker = Worker()
    proxy = client.proxy(server.export(worker))
    future = orb.future(proxy.asleep)(30)
    assert worker.started.wait(5)
    server.close()
    assert worker.cancelled.wait(5)
    with pytest.raises(orb.CommunicationError):
        future.result(5)


def test_an_aio_broker_outliving_its_loop_serves_async_methods_on_its_own(client: orb.ORB) -> None:
    async def make() -> orb.aio.ORB:
        return orb.aio.ORB(listen="tcp://127.0.0.1:0")

    server = run(make())  # that loop is closed now
    try:
        proxy = client.proxy(server.export(Worker()))
        assert proxy.aecho("later") == "later"
        assert proxy.loop_thread().startswith("orb-loop")
    finally:
        server.close()


def test_async_methods_answer_while_every_worker_is_busy() -> None:
    # Plain methods run on the reader (until a stand-in takes over) and in
    # worker threads; async ones only need the event loop, so they still
    # answer when the reader and every worker are held up.
    config = orb.Config(max_workers=2)
    with orb.ORB(listen="tcp://127.0.0.1:0", config=config) as server, orb.ORB() as client:
        worker = Worker()
        uri = str(server.export(worker))
        running = threading.Semaphore(0)

        @orb.expose
        class Gate:
            def hold(self) -> bool:
                running.release()
                return worker.release.wait(5)

        gate = client.proxy(server.export(Gate()), timeout=8)
        awaitable = run(orb.aio.proxy(uri, broker=client, timeout=3))  # its interface, beforehand
        holders = [threading.Thread(target=gate.hold) for _ in range(3)]
        for thread in holders:
            thread.start()
        try:
            for _ in range(3):
                assert running.acquire(timeout=5)

            async def main() -> list[object]:
                return await asyncio.gather(*[awaitable.aecho(i) for i in range(20)])

            assert run(main()) == list(range(20))
            assert not worker.release.is_set()  # the plain calls were still running
        finally:
            worker.release.set()
            for thread in holders:
                thread.join(5)
