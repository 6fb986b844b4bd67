"""Who reads a connection (orb._reading): callers, the reader thread, stand-ins.

Blocked callers read their own replies, the reader thread runs short
incoming calls itself, and a stand-in reads while such a call runs long.
These tests hold the behaviour a user sees to that design: slow calls do
not hold up fast ones, callbacks over the same connection work from a
call the reader runs, timeouts and many threads mix, and callers that
cannot read (futures, coroutines) are still answered at once.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import pytest
from protocol_peer import ProtocolPeer

import orb
import orb.aio
from orb import _reading


@orb.expose
class Service:
    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    def echo(self, value: object) -> object:
        return value

    def hold(self, seconds: float) -> str:
        self.started.set()
        return "released" if self.release.wait(seconds) else "timed out"

    def call_back(self, target: orb.Proxy, value: object, depth: int) -> object:
        return target.bounce(value, depth)


@orb.expose
class Bouncer:
    """Client side of a callback chain: calls the service again until depth runs out."""

    def __init__(self, service: orb.Proxy | None = None) -> None:
        self.service = service
        self.calls = 0

    def bounce(self, value: object, depth: int) -> object:
        self.calls += 1
        if depth <= 0 or self.service is None:
            return value
        return self.service.call_back(self, value, depth - 1)


@pytest.fixture
def service() -> Service:
    return Service()


@pytest.fixture
def proxy(server: orb.ORB, client: orb.ORB, service: Service) -> Iterator[orb.Proxy]:
    proxy = client.proxy(server.export(service))
    try:
        yield proxy
    finally:
        service.release.set()


def _reader_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("orb-reader"))


def test_a_slow_call_holds_up_its_connection_only_briefly(
    proxy: orb.Proxy, service: Service
) -> None:
    assert proxy.echo(0) == 0
    slow = threading.Thread(target=proxy.hold, args=(10,))
    slow.start()
    try:
        assert service.started.wait(5)
        started = time.monotonic()
        assert [proxy.echo(i) for i in range(20)] == list(range(20))
        assert time.monotonic() - started < 2  # not the 10 s the slow call takes
    finally:
        service.release.set()
        slow.join(5)


def test_the_stand_in_reader_hands_back_after_a_slow_call(
    proxy: orb.Proxy, service: Service
) -> None:
    assert proxy.echo(0) == 0
    before = _reader_threads()
    slow = threading.Thread(target=proxy.hold, args=(10,))
    slow.start()
    assert service.started.wait(5)
    assert proxy.echo(1) == 1  # read by a stand-in while the slow call runs
    service.release.set()
    slow.join(5)
    deadline = time.monotonic() + 5
    while _reader_threads() > before and time.monotonic() < deadline:
        assert proxy.echo(2) == 2  # the stand-in leaves at the next message it reads
        time.sleep(0.01)
    assert _reader_threads() == before


def test_a_call_run_by_the_reader_calls_back_over_the_same_connection(
    server: orb.ORB, client: orb.ORB
) -> None:
    remote = client.proxy(server.export(Service()))
    bouncer = Bouncer(remote)
    # client -> server -> client -> server ... all over the one connection the client opened
    assert remote.call_back(bouncer, "deep", 6) == "deep"
    assert bouncer.calls == 7


def test_threads_with_and_without_timeouts_share_one_proxy(
    proxy: orb.Proxy, service: Service
) -> None:
    failures: list[BaseException] = []
    timeouts = [0]

    def plain(index: int) -> None:
        try:
            for i in range(150):
                assert proxy.echo((index, i)) == (index, i)
        except BaseException as exc:
            failures.append(exc)

    def timed(index: int) -> None:
        try:
            with orb.call_timeout(5):
                for i in range(150):
                    assert proxy.echo([index, i]) == [index, i]
            with orb.call_timeout(0.05):
                for _ in range(3):
                    try:
                        proxy.hold(0.3)
                    except orb.TimeoutError:
                        timeouts[0] += 1
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=plain if i % 2 else timed, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not failures, failures[0]
    assert timeouts[0] == 15
    assert proxy.echo("still usable") == "still usable"


def test_futures_after_blocking_calls_are_read_at_once(
    proxy: orb.Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocking callers read their own replies, so the reader thread steps
    # back; a future's caller does not read, and must not wait for it.
    monkeypatch.setattr(_reading, "STEP_BACK", 30.0)
    for i in range(20):
        assert proxy.echo(i) == i
    started = time.monotonic()
    call = orb.future(proxy.echo)
    for i in range(20):
        assert call(i).result(timeout=10) == i
    assert time.monotonic() - started < 5


def test_coroutines_after_blocking_calls_are_read_at_once(
    client: orb.ORB, proxy: orb.Proxy, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_reading, "STEP_BACK", 30.0)
    for i in range(20):
        assert proxy.echo(i) == i

    async def main() -> list[object]:
        remote = await orb.aio.proxy(proxy, broker=client)
        return [await remote.echo(i) for i in range(20)]

    started = time.monotonic()
    assert asyncio.run(main()) == list(range(20))
    assert time.monotonic() - started < 5


def test_a_callback_between_blocking_calls_is_served(server: orb.ORB, client: orb.ORB) -> None:
    remote = client.proxy(server.export(Service()))
    bouncer = Bouncer()
    for i in range(20):
        assert remote.echo(i) == i  # the client's reader thread steps back
    # Now the server calls the client while no client thread is in a call.
    from_server = server.proxy(client.ref(bouncer))
    result: list[object] = []
    thread = threading.Thread(target=lambda: result.append(from_server.bounce("pushed", 0)))
    started = time.monotonic()
    thread.start()
    thread.join(10)
    assert result == ["pushed"]
    assert time.monotonic() - started < 5


def test_pipelined_calls_read_together_are_all_answered(server: orb.ORB, service: Service) -> None:
    object_id = server.export(service).object_id
    raw = ProtocolPeer(server.endpoints[0])
    try:
        raw.send_calls(object_id, [(i, "echo", [i * 10]) for i in range(1, 201)])
        replies = dict(raw.reply() for _ in range(200))
        assert replies == {i: i * 10 for i in range(1, 201)}
    finally:
        raw.close()


def test_a_reply_kept_for_the_next_calls_is_not_held_up_by_a_slow_one(
    server: orb.ORB, service: Service
) -> None:
    # The reader answers "echo" while "hold" has already arrived: it keeps the
    # reply back to send it with the next one, but no longer than the slow
    # call's time on the reader (5 ms) before it goes out on its own.
    object_id = server.export(service).object_id
    raw = ProtocolPeer(server.endpoints[0])
    try:
        raw.send_calls(object_id, [(1, "echo", ["fast"]), (2, "hold", [5.0]), (3, "echo", ["after"])])
        assert raw.reply() == (1, "fast")  # while "hold" still runs
        assert service.started.is_set() and not service.release.is_set()
        service.release.set()
        assert dict(raw.reply() for _ in range(2)) == {2: "released", 3: "after"}
    finally:
        service.release.set()
        raw.close()
