"""A broker made by orb.aio.ORB has its event loop read its outgoing connections.

Replies complete their coroutines on the loop itself; everything else the
reader thread would do still happens: callbacks into the client are
served, blocking callers on other threads share the connection, and a
reader thread takes over when the loop ends before the broker. Streams and
a lost connection are tested both ways (``LOOP_READS``) in test_streams.py
and test_aio_proxy.py.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

import orb
import orb.aio

from ._support import Worker, run


@orb.expose
class Hub:
    """Keeps a client's callback object and calls it on request."""

    def __init__(self) -> None:
        self.callback: orb.Proxy | None = None

    def remember(self, callback: orb.Proxy) -> None:
        self.callback = callback

    def call_back(self, value: object) -> object:
        assert self.callback is not None
        return self.callback.echo(value)

    def call_back_async(self, value: object) -> object:
        assert self.callback is not None
        return self.callback.aecho(value)


def _reader_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("orb-reader")]


def test_the_loop_reads_replies_and_no_reader_thread_is_started() -> None:
    limits = orb.Limits(max_pending=8)  # fewer slots than calls: coroutines queue for them
    with orb.ORB(listen="tcp://127.0.0.1:0") as server:
        uri = str(server.export(Worker()))
        before = set(_reader_threads())

        async def main() -> list[str]:
            async with orb.aio.ORB(limits=limits) as client:
                proxy = await orb.aio.proxy(uri, broker=client)
                results = await asyncio.gather(
                    *[proxy.echo(i) for i in range(200)], *[proxy.aecho(i) for i in range(200)]
                )
                assert results == list(range(200)) * 2
                with pytest.raises(ValueError, match="boom"):
                    await proxy.fail("boom")
                assert await proxy.size == 3
                return [name for name in _reader_threads() if name not in before]

        started = run(main())
        # The server's side of the connection has a reader thread; the client's has none.
        assert len(started) == 1


def test_callbacks_into_the_client_are_served_while_the_loop_reads() -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as server:
        uri = str(server.export(Hub()))

        async def main() -> None:
            async with orb.aio.ORB() as client:
                worker = Worker()
                hub = await orb.aio.proxy(uri, broker=client)
                await hub.remember(client.export(worker))
                # The server calls back over the connection the client opened:
                # a plain method runs in the client's worker pool, an async one
                # on this loop, while the loop keeps reading.
                assert await hub.call_back("plain") == "plain"
                assert await hub.call_back_async("async") == "async"
                assert worker.threads["aecho"] == threading.current_thread().name
                assert worker.threads["echo"] != threading.current_thread().name
                results = await asyncio.gather(*[hub.call_back(i) for i in range(50)])
                assert results == list(range(50))

        run(main())


def test_blocking_callers_on_other_threads_share_the_connection() -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as server:
        uri = str(server.export(Worker()))

        async def main() -> None:
            async with orb.aio.ORB() as client:
                proxy = await orb.aio.proxy(uri, broker=client)
                blocking = client.proxy(uri)
                loop = asyncio.get_running_loop()

                def call_many(base: int) -> list[int]:
                    return [blocking.echo(base + i) for i in range(200)]

                threads = [loop.run_in_executor(None, call_many, k * 1000) for k in range(3)]
                awaited = [proxy.echo(i) for i in range(600)]
                results = await asyncio.gather(*threads, *awaited)
                for k in range(3):
                    assert results[k] == [k * 1000 + i for i in range(200)]
                assert results[3:] == list(range(600))
                assert len(client.stats()["connections"]) == 1

        run(main())


def test_a_reader_thread_takes_over_when_the_loop_ends_first() -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as server:
        hub = Hub()
        uri = str(server.export(hub))
        worker = Worker()

        async def main() -> orb.aio.ORB:
            client = orb.aio.ORB()  # outlives its loop: not closed with it
            proxy = await orb.aio.proxy(uri, broker=client)
            await proxy.remember(client.export(worker))
            return client

        client = run(main())
        try:
            blocking = client.proxy(uri)
            assert blocking.call_back("after the loop") == "after the loop"
            # Now nobody on the client is in a call: a callback that the
            # server starts on its own is read by the client's reader thread.
            assert hub.call_back("unprompted") == "unprompted"
        finally:
            client.close()
