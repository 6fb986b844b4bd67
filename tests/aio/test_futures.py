"""Futures from blocking code: orb.future, orb.batch, pipelining on one connection."""

from __future__ import annotations

import concurrent.futures
import threading

import pytest

import orb

from ._support import Worker


@orb.expose
class Barrier:
    """Each call waits until ``parties`` calls have arrived, then they all return.

    Calls that are sent one at a time, each after the previous reply, could
    never get past it: passing proves they were all on the wire at once.
    """

    def __init__(self, parties: int) -> None:
        self._barrier = threading.Barrier(parties, timeout=5)

    def arrive(self, index: int) -> int:
        self._barrier.wait()
        return index


def test_future_returns_the_result_or_the_error(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Worker()))
    ok = orb.future(proxy.echo)([1, 2])
    failed = orb.future(proxy.fail)("bad")
    from_async = orb.future(proxy.aecho)("async")
    assert isinstance(ok, concurrent.futures.Future)
    assert ok.result(5) == [1, 2]
    assert from_async.result(5) == "async"
    with pytest.raises(ValueError, match="bad"):
        failed.result(5)


def test_futures_pipeline_many_calls_on_one_connection(server: orb.ORB, client: orb.ORB) -> None:
    parties = 20
    proxy = client.proxy(server.export(Barrier(parties)))
    arrive = orb.future(proxy.arrive)
    futures = [arrive(i) for i in range(parties)]
    assert [f.result(10) for f in futures] == list(range(parties))
    assert len(client.stats()["connections"]) == 1


def test_batch_sends_everything_then_waits(server: orb.ORB, client: orb.ORB) -> None:
    parties = 10
    barrier = client.proxy(server.export(Barrier(parties)))
    worker = client.proxy(server.export(Worker()))
    with orb.batch() as batch:
        arrivals = [batch.call(barrier.arrive, i) for i in range(parties)]
        echoed = batch.call(worker.echo, "x")
        failed = batch.call(worker.fail, "in a batch")
    assert all(f.done() for f in batch.futures)  # leaving the block waited for all
    assert [f.result() for f in arrivals] == list(range(parties))
    assert echoed.result() == "x"
    assert isinstance(failed.exception(), ValueError)
    with pytest.raises(ValueError, match="in a batch"):
        batch.results()


def test_future_timeout_fails_it_and_cancels_the_call(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker), timeout=0.2)
    future = orb.future(proxy.asleep)(10)
    with pytest.raises(orb.TimeoutError):
        future.result(5)
    assert worker.cancelled.wait(5)


def test_cancelling_a_future_cancels_the_remote_call(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker))
    future = orb.future(proxy.asleep)(10)
    assert worker.started.wait(5)
    assert future.cancel()
    assert worker.cancelled.wait(5)
    assert proxy.echo("next") == "next"


def test_one_way_future_is_done_when_sent(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker))
    assert orb.future(proxy.note)("sent").result(5) is None
    assert proxy.echo("sync") == "sync"
    assert "sent" in worker.finished


def test_future_needs_a_proxy_method(server: orb.ORB, client: orb.ORB) -> None:
    with pytest.raises(TypeError, match="orb.future"):
        orb.future(print)
    with pytest.raises(TypeError, match="orb.future"):
        orb.future(Worker().echo)


def test_arguments_that_cannot_travel_raise_at_the_call(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Worker()))
    with pytest.raises(orb.EncodeError):
        orb.future(proxy.echo)(object())
    assert orb.future(proxy.echo)(1).result(5) == 1  # the slot was given back
