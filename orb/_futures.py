"""Calls from blocking code that do not wait: ``orb.future`` and ``orb.batch``.

``orb.future(proxy.method)(*args)`` sends the call and returns a
``concurrent.futures.Future`` at once. The call goes out on the proxy's
connection before ``future`` returns, so futures started one after another
are pipelined: all their calls are on the wire before the first reply is
read, and the server runs them concurrently. The connection's reader
thread completes each future as its reply arrives.
"""

from __future__ import annotations

import concurrent.futures
import functools
import types
from collections.abc import Callable
from typing import Any

from ._errors import TimeoutError
from ._proxy import Proxy, _call_timeout
from ._waiters import FuturePending
from ._wire import Call, Cancel

Future = concurrent.futures.Future


def future(method: Callable[..., Any]) -> Callable[..., Future[Any]]:
    """Start calls of a remote method without waiting: ``orb.future(proxy.add)(2, 3)``.

    ``method`` is a method of a (blocking) proxy. The returned function
    sends the call and returns a ``concurrent.futures.Future`` holding its
    result or remote exception; a stream (the servant returned an
    iterator) arrives as an ``orb.Stream``. The proxy's timeout (or
    ``orb.call_timeout``) applies: when no reply comes in time the future
    fails with ``orb.TimeoutError`` and the call is cancelled.
    ``future.cancel()`` cancels the call too (an ``async def`` servant
    method is cancelled; a plain one's result is dropped). One-way methods
    give a future that is done once the call is sent.

    Sending happens on the calling thread, so arguments that cannot travel
    raise here, and a full connection (``Limits.max_pending`` calls in
    flight) makes this wait for a free slot. Callbacks added with
    ``add_done_callback`` run on the connection's reader thread: keep them
    short and never make blocking orb calls from them.

    Many calls started in a row are pipelined on one connection::

        futures = [orb.future(calc.add)(i, i) for i in range(100)]
        results = [f.result() for f in futures]
    """
    target, name = _bound(method)
    return functools.partial(_start, target, name)


def _bound(method: Any) -> tuple[Proxy, str]:
    if (
        isinstance(method, types.MethodType)
        and isinstance(method.__self__, Proxy)
        and not getattr(method.__self__, "_orb_async", False)
    ):
        return method.__self__, method.__func__.__name__
    raise TypeError(
        "orb.future() takes a method of an orb proxy, like orb.future(proxy.method); "
        f"got {method!r}"
    )


def _start(proxy: Proxy, name: str, *args: Any, **kwargs: Any) -> Future[Any]:
    broker = proxy._orb_broker
    described = proxy._orb_interface().method(name)
    if described is not None and described.oneway:
        proxy._orb_oneway(name, args, kwargs)
        done: Future[Any] = Future()
        done.set_result(None)
        return done
    timeout = _call_timeout.get()
    if timeout is None:
        timeout = proxy._orb_timeout
    channel = broker._channel_of(proxy)
    if not channel._call_slots.acquire(timeout=timeout):
        raise TimeoutError(f"no free call slot on {channel!r} within {timeout:g}s")
    request_id = next(channel._request_ids)
    waiter = FuturePending(name, channel)
    pending: dict[int, Any] = channel._pending  # any waiter with a ``lock`` will do
    pending[request_id] = waiter
    try:
        channel.send(Call(request_id=request_id, object_id=proxy._orb_ref.object_id,
                          method=name, args=list(args), kwargs=kwargs))
    except BaseException:
        if channel._pending.pop(request_id, None) is not None:
            channel._release_slot()
        raise
    result = waiter.future
    result.add_done_callback(functools.partial(_cancelled, waiter, request_id))
    if timeout is not None:
        broker._loops.call_later(timeout, waiter.time_out, request_id, timeout)
    return result


def _cancelled(waiter: FuturePending, request_id: int, result: Future[Any]) -> None:
    if result.cancelled():
        channel = waiter.channel
        if channel._pending.pop(request_id, None) is not None:
            channel._release_slot()
            channel._send_quietly(Cancel(request_id=request_id))


class Batch:
    """Calls started together and collected together; see :func:`batch`."""

    def __init__(self) -> None:
        self.futures: list[Future[Any]] = []

    def call(self, method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Start ``method(*args, **kwargs)`` (a proxy method) now; its future."""
        started = future(method)(*args, **kwargs)
        self.futures.append(started)
        return started

    def results(self, timeout: float | None = None) -> list[Any]:
        """Every call's result, in the order started; raises the first call's error."""
        return [f.result(timeout) for f in self.futures]

    def wait(self, timeout: float | None = None) -> None:
        """Wait until every call started so far is done."""
        concurrent.futures.wait(self.futures, timeout)

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.wait()


def batch() -> Batch:
    """Pipeline many calls and collect them::

        with orb.batch() as b:
            first = b.call(calc.add, 1, 2)
            second = b.call(store.get, "key")
        first.result(), second.result()     # both are done here

    Each ``b.call`` sends its call at once (see :func:`future`), so all of
    them are on the wire before the first reply is read; leaving the block
    waits for every reply. Errors stay in the futures (``b.results()``
    raises the first one).
    """
    return Batch()

