"""asyncio API: await remote calls, serve ``async def`` methods, stream with ``async for``.

::

    import orb
    import orb.aio

    @orb.expose
    class Clock:
        async def tick(self, delay: float) -> str:   # runs on the broker's event loop
            await asyncio.sleep(delay)
            return "tock"

        async def ticks(self, n: int):               # streams to `async for`
            for i in range(n):
                yield i

    async def main() -> None:
        async with orb.aio.ORB(listen="tcp://127.0.0.1:0") as broker:
            uri = str(broker.export(Clock()))
            clock = await orb.aio.proxy(uri)
            print(await clock.tick(0.1))
            async for i in await clock.ticks(3):
                print(i)

Calls from a coroutine do not block the event loop, so a thousand of them
can be in flight at once from one task group (``asyncio.gather`` or
``asyncio.TaskGroup``), pipelined on one connection.

Underneath is the same implementation as the blocking API: one channel per
peer ORB over the sans-I/O protocol core, the same dispatcher and export
table. A coroutine sends its call on the event loop's thread (large
payloads from an executor thread) and the channel's reader thread wakes it
through the loop; connecting runs in an executor thread. Servant methods
that are ``async def`` run on the broker's event loop: the loop the
:class:`ORB` was created in, or else a loop thread the broker starts on
first use. Plain methods keep running in the worker pool, so never make
blocking orb calls from an ``async def`` method: await an ``orb.aio``
proxy instead.

A call cancelled by its task, or timed out (proxy timeout or
``orb.call_timeout``), sends CANCEL: an ``async def`` servant method is
then cancelled (it sees ``asyncio.CancelledError``); a plain method runs
to the end and its result is dropped.

A call whose servant returns an iterator, generator or async generator
returns an :class:`AsyncStream`: items arrive in batches with flow
control, and ``aclose()`` (or leaving ``async with``) stops the producer.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Any

from . import _aiochannel, _api, _proxy
from ._broker import ORB as _SyncORB
from ._default import default_broker
from ._exposure import members_of
from ._interface import Interface, describe_class
from ._proxy import _call_timeout, call_timeout
from ._refs import ObjectRef
from ._streams import AsyncStream

__all__ = [
    "ORB",
    "AsyncStream",
    "Proxy",
    "call_timeout",
    "describe",
    "get_property",
    "invoke",
    "proxy",
    "resolve",
    "set_property",
]


class ORB(_SyncORB):
    """An ``orb.ORB`` for asyncio programs: ``async with orb.ORB(...) as broker``.

    Made inside a running event loop, it runs ``async def`` servant
    methods on that loop. It is a full broker: everything ``orb.ORB`` does
    works (``broker.proxy`` still makes blocking proxies; use
    :func:`proxy` for awaitable ones). Leaving ``async with`` (or
    :meth:`aclose`) shuts it down without blocking the loop.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            self._loops.adopt(loop)

    async def __aenter__(self) -> ORB:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Shut the broker down (see :meth:`orb.ORB.close`) from a thread."""
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    async def serve_forever(self) -> None:  # type: ignore[override]
        """Wait until the broker is closed (by :meth:`aclose`, a servant, or another thread)."""
        await asyncio.get_running_loop().run_in_executor(None, self._closed.wait)


class Proxy(_proxy.Proxy):
    """A proxy whose calls are awaited: ``await proxy.method(...)``.

    Made by :func:`proxy` or :func:`resolve` (which fetch the remote
    interface first, so attribute access never waits). Reading an exposed
    property is awaited too (``await proxy.size``); set one with
    :func:`set_property`. ``async for item in proxy`` streams the remote
    ``__iter__``, ``async with proxy`` calls its ``__enter__``/``__exit__``.
    Other operators that Python cannot await (``len()``, ``in``, ``[]``)
    are refused: use ``await orb.aio.invoke(proxy, "__len__")``.

    A proxy that comes back as the result of an awaited call arrives as
    an ``orb.aio.Proxy`` too; proxies nested inside other values arrive as
    blocking ``orb.Proxy`` objects: wrap them with :func:`proxy`.
    """

    _orb_async = True
    _orb_origin: _proxy.Proxy | None

    async def _orb_call(self, method: str, args: tuple | list, kwargs: dict) -> Any:  # type: ignore[override]
        timeout = _call_timeout.get()
        if timeout is None:
            timeout = self._orb_timeout
        channel = self._orb_channel
        if channel is None or channel.closed:
            channel = await _channel_of(self)
        inbox = self._orb_broker._loops.inbox(asyncio.get_running_loop())
        value = await _aiochannel.call(
            channel, inbox, self._orb_ref.object_id, method, list(args), kwargs, timeout
        )
        if type(value) is _proxy.Proxy:
            value = await _wrap(value)
        return value

    async def _orb_oneway(self, method: str, args: tuple | list, kwargs: dict) -> None:  # type: ignore[override]
        channel = await _channel_of(self)
        await _aiochannel.oneway(channel, self._orb_ref.object_id, method, list(args), kwargs)

    def _orb_remote_type(self) -> _proxy.RemoteType:
        remote_type = self._orb_type
        if remote_type is None:
            raise RuntimeError(
                "this orb.aio.Proxy has no interface yet; make it with `await orb.aio.proxy(...)`"
            )
        return remote_type

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"cannot set {name!r} on an orb.aio.Proxy; use "
            f"`await orb.aio.set_property(proxy, {name!r}, value)`"
        )

    def __repr__(self) -> str:
        return "<orb.aio" + super().__repr__()[4:]

    # Operators that would have to block are refused rather than block the loop.

    def _orb_refuse(self, what: str, dunder: str) -> Any:
        raise TypeError(
            f"{what} cannot be awaited on an orb.aio.Proxy; use "
            f"`await orb.aio.invoke(proxy, {dunder!r}, ...)`"
        )

    def __len__(self) -> int:
        return self._orb_refuse("len()", "__len__")

    def __iter__(self) -> Any:
        return self._orb_refuse("iteration (use `async for`)", "__iter__")

    def __getitem__(self, key: Any) -> Any:
        return self._orb_refuse("proxy[key]", "__getitem__")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._orb_refuse("proxy[key] = value", "__setitem__")

    def __delitem__(self, key: Any) -> None:
        self._orb_refuse("del proxy[key]", "__delitem__")

    def __contains__(self, item: Any) -> bool:
        return self._orb_refuse("`in`", "__contains__")

    def __bool__(self) -> bool:
        return True

    def __str__(self) -> str:
        return repr(self)

    def __enter__(self) -> Any:
        return self._orb_refuse("`with` (use `async with`)", "__enter__")

    def __exit__(self, *exc_info: object) -> Any:
        return self._orb_refuse("`with` (use `async with`)", "__exit__")

    def __aiter__(self) -> AsyncIterator[Any]:
        return _LazyStream(self)

    async def __aenter__(self) -> Any:
        if self._orb_has("__enter__"):
            return await self._orb_call("__enter__", (), {})
        return self

    async def __aexit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        if self._orb_has("__exit__"):
            return await self._orb_call("__exit__", (exc,) if exc is not None else (), {})
        return None


Proxy.__module__ = "orb.aio"


class _LazyStream:
    """``async for`` over a proxy: calls the remote ``__iter__`` on the first step."""

    def __init__(self, proxy: Proxy) -> None:
        self._proxy = proxy
        self._stream: AsyncStream | None = None

    def __aiter__(self) -> _LazyStream:
        return self

    async def __anext__(self) -> Any:
        if self._stream is None:
            self._stream = await self._proxy._orb_call("__iter__", (), {})
        return await self._stream.__anext__()

    async def aclose(self) -> None:
        if self._stream is not None:
            await self._stream.aclose()


# -- the call path ---------------------------------------------------------------


async def _channel_of(proxy: _proxy.Proxy) -> Any:
    channel = proxy._orb_channel
    if channel is None or channel.closed:
        loop = asyncio.get_running_loop()
        channel = await loop.run_in_executor(None, proxy._orb_broker._channel_of, proxy)
    return channel


async def _call(
    proxy: _proxy.Proxy, method: str, args: list, kwargs: dict, timeout: float | None
) -> Any:
    channel = await _channel_of(proxy)
    inbox = proxy._orb_broker._loops.inbox(asyncio.get_running_loop())
    return await _aiochannel.call(
        channel, inbox, proxy._orb_ref.object_id, method, args, kwargs, timeout
    )


async def _wrap(target: _proxy.Proxy) -> Proxy:
    """An ``orb.aio.Proxy`` for a blocking proxy, with its interface loaded."""
    if isinstance(target, Proxy):
        await _load_interface(target)
        return target
    wrapped = Proxy(target._orb_ref, target._orb_broker, target._orb_timeout)
    # The original keeps the DGC lease of a reference that arrived; keep it alive.
    object.__setattr__(wrapped, "_orb_origin", target)
    object.__setattr__(wrapped, "_orb_channel", target._orb_channel)
    object.__setattr__(wrapped, "_orb_type", target._orb_type)
    await _load_interface(wrapped)
    return wrapped


async def _load_interface(target: Proxy) -> None:
    if target._orb_type is not None:
        return
    broker = target._orb_broker
    remote_type = broker._known_remote_type(target)
    if remote_type is None:
        data = await _call(target, "__orb_describe__", [], {}, target._orb_timeout)
        remote_type = broker._learn_remote_type(target, data)
    object.__setattr__(target, "_orb_type", remote_type)


# -- the async twins of orb.proxy, orb.resolve, orb.invoke, orb.describe ---------------


async def proxy(
    target: str | ObjectRef | _proxy.Proxy,
    *,
    timeout: float | None = None,
    broker: _SyncORB | None = None,
) -> Proxy:
    """An awaitable proxy for an object URI, reference or proxy (see :func:`orb.proxy`).

    Connects (in an executor thread) and fetches the remote interface
    before it returns. ``timeout`` is how long each call waits for its
    reply (default: the broker's).
    """
    if isinstance(target, _proxy.Proxy) and (
        broker is None or broker is target._orb_broker
    ) and timeout is None:
        return await _wrap(target)
    sync = (broker or default_broker()).proxy(target, timeout=timeout)
    return await _wrap(sync)


async def resolve(name: str, *, timeout: float | None = None, naming: str | None = None) -> Any:
    """An awaitable proxy for the object bound to ``name`` (see :func:`orb.resolve`).

    The naming lookup runs in an executor thread. An object that lives in
    this process's default broker comes back as itself.
    """
    loop = asyncio.get_running_loop()
    found = await loop.run_in_executor(
        None, functools.partial(_api.resolve, name, timeout=timeout, naming=naming)
    )
    if not isinstance(found, _proxy.Proxy):
        return found
    return await _wrap(found)


async def invoke(target: Any, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call the method ``name`` of ``target`` and await the result (see :func:`orb.invoke`).

    ``target`` is a proxy, reference, URI, or local object (whose method
    may be ``async def``). A remote one-way method is sent one-way and
    returns None.
    """
    if not isinstance(target, (_proxy.Proxy, str, ObjectRef)):
        member = members_of(type(target)).get(name)
        if member is None or member.is_property:
            raise AttributeError(f"{type(target).__qualname__} has no exposed method {name!r}")
        result = getattr(target, name)(*args, **kwargs)
        if asyncio.iscoroutine(result):
            result = await result
        return result
    remote = await proxy(target)
    method = remote._orb_interface().method(name)
    if method is not None and method.oneway:
        await remote._orb_oneway(name, args, kwargs)
        return None
    return await remote._orb_call(name, args, kwargs)


async def describe(target: Any) -> Interface:
    """The interface of a remote or local object (see :func:`orb.describe`)."""
    if isinstance(target, (_proxy.Proxy, str, ObjectRef)):
        remote = await proxy(target)
        return remote._orb_interface()
    cls = target if isinstance(target, type) else type(target)
    return describe_class(cls)


async def get_property(target: Proxy, name: str) -> Any:
    """Read the exposed property ``name`` of a remote object."""
    return await target._orb_call("__orb_getattr__", (name,), {})


async def set_property(target: Proxy, name: str, value: Any) -> None:
    """Write the exposed, writable property ``name`` of a remote object."""
    await target._orb_call("__orb_setattr__", (name, value), {})
