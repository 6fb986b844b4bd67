"""Streams: a servant's iterator reaches the caller lazily, in batches, under credit.

A servant method that returns an iterator or generator (or an async
generator) does not send it as a value: the broker answers the Call with a
stream (docs/PROTOCOL.md, "Streams")::

    callee (producer)                      caller (consumer)
    STREAM_ITEMS(id, [a, b, c])   ---->    the call returns an iterator
    STREAM_ITEMS(id, [d, e])      ---->
                                  <----    STREAM_CREDIT(id, n)
    STREAM_END(id) or ERROR(id)   ---->
                                  <----    STREAM_CLOSE(id)  (stopped early)

* The first answer to a streamed call is always a STREAM_ITEMS (perhaps
  with no items), so the call returns an iterator even when the servant
  raises before its first item; that error comes out of iteration.
* Flow control counts items. The consumer starts with ``INITIAL_CREDIT``;
  the producer pulls the next item only while it has credit, so it is
  never more than that many items ahead of the consumer. The consumer
  grants credit back in halves of its window as items are consumed.
* Items travel in batches: a batch is sent when it holds ``MAX_BATCH``
  items or about ``BATCH_BYTES`` of bytes/str, when credit runs out, when
  the iterator ends, or ``LINGER`` seconds after its first item (so a slow
  producer's items are not held back waiting for company).
* Closing the consumer (``close()``, leaving a ``with`` block, or dropping
  the iterator), a CANCEL, or the connection closing stops the producer:
  a generator is closed, so its ``finally`` blocks run.
* An open stream is not a call in flight: the caller frees its call slot
  at the first answer, and the producer's side counts it against
  ``Limits.max_streams`` instead of ``max_pending`` (orb._producers).

The producers live in orb._producers; this module holds the consumers
(:class:`Stream`, :class:`AsyncStream`) and the channel's handlers of the
four STREAM messages.
"""

from __future__ import annotations

import _thread
import collections
import logging
import threading
import weakref
from typing import TYPE_CHECKING, Any

from ._errors import CommunicationError, ProtocolError
from ._wire._messages import StreamClose, StreamCredit, StreamEnd, StreamItems

if TYPE_CHECKING:
    import asyncio

    from ._channel import Channel
    from ._loop import Inbox

log = logging.getLogger("orb.streams")

#: Items a consumer may receive before it grants more (its window).
INITIAL_CREDIT = 64
#: The most items in one STREAM_ITEMS message.
MAX_BATCH = 64
#: A batch is sent once its bytes and str items add up to about this many bytes.
BATCH_BYTES = 64 * 1024
#: Seconds a batch waits for more items before it is sent anyway.
LINGER = 0.005

# -- consumer side (caller) ---------------------------------------------------


class _Exhausted(Exception):
    """The stream has no more items (it ended, or the consumer closed it)."""


class _Consumer:
    """What both consumers share: the buffer, credit accounting, closing."""

    def __init__(self, channel: Channel, request_id: int) -> None:
        self.channel = channel
        self.request_id = request_id
        self._lock = threading.Lock()
        self._buffer: collections.deque[Any] = collections.deque()
        self._refs: list[Any] = []  # new proxies among the buffered items, to claim leases on
        self._ended = False
        self._error: BaseException | None = None
        self._closed = False
        self._outstanding = INITIAL_CREDIT  # items the producer may still send
        self._consumed = 0  # items taken since the last grant
        # A stream dropped unfinished tells the producer to stop, from a new
        # thread: nothing may be sent from inside garbage collection.
        self._finalizer = weakref.finalize(self, _abandoned, channel, request_id)
        self._finalizer.atexit = False
        channel._streams[request_id] = self

    def __repr__(self) -> str:
        state = "closed" if self._closed else "ended" if self._ended else "open"
        return f"<orb {type(self).__name__} {self.request_id} from {self.channel!r} {state}>"

    # reader thread

    def feed(self, items: list[Any], refs: list[Any]) -> None:
        """A batch arrived."""
        with self._lock:
            if self._closed:
                return
            self._outstanding -= len(items)
            if self._outstanding < 0:
                raise ProtocolError(f"stream {self.request_id} sent more items than granted")
            self._buffer.extend(items)
            if refs:
                self._refs += refs
        self._wake()

    def finish(self, error: BaseException | None) -> None:
        """The stream ended, normally or with ``error``."""
        with self._lock:
            self._ended = True
            self._error = error
        self._finalizer.detach()
        self._wake()

    def _wake(self) -> None:
        raise NotImplementedError

    # consumer

    def _next(self) -> tuple[bool, Any, list[Any], int]:
        """Under the lock: (found, item, refs to adopt, credit to grant).

        Not found means wait for more. Raises the stream's error, or
        :class:`_Exhausted` once the stream is over.
        """
        if self._buffer:
            item = self._buffer.popleft()
            refs = self._refs
            if refs:
                self._refs = []
            grant = 0
            self._consumed += 1
            if self._consumed >= INITIAL_CREDIT // 2 and not self._ended:
                grant, self._consumed = self._consumed, 0
                self._outstanding += grant
            return True, item, refs, grant
        if self._ended and not self._closed:
            error, self._error = self._error, None
            self._closed = True
            if error is not None:
                raise error
            raise _Exhausted
        if self._closed:
            raise _Exhausted
        return False, None, [], 0

    def _close(self) -> bool:
        """Stop consuming; True when the producer must be told."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            self._buffer.clear()
            self._refs = []
            tell = not self._ended
        self._finalizer.detach()
        self.channel._streams.pop(self.request_id, None)
        return tell


class Stream(_Consumer):
    """An iterator over the items a remote servant produces.

    Returned by a call whose servant returned an iterator or generator.
    Items arrive in batches ahead of consumption (at most
    ``INITIAL_CREDIT`` of them). Waiting for the next item has no timeout;
    a connection that breaks ends the iteration with
    ``orb.CommunicationError``. Call :meth:`close` (or use ``with``) to
    stop early; the remote generator is closed then.
    """

    def __init__(self, channel: Channel, request_id: int) -> None:
        super().__init__(channel, request_id)
        self._ready = threading.Condition(self._lock)

    def _wake(self) -> None:
        with self._ready:
            self._ready.notify()

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> Any:
        with self._ready:
            while True:
                try:
                    found, item, refs, grant = self._next()
                except _Exhausted:
                    raise StopIteration from None
                if found:
                    break
                self._ready.wait()
        if refs:
            self.channel.broker._adopt(refs)
        if grant:
            self.channel._send_quietly(StreamCredit(request_id=self.request_id, count=grant))
        return item

    def close(self) -> None:
        """Stop the stream; the remote producer stops and its generator is closed."""
        if self._close():
            self.channel._send_quietly(StreamClose(request_id=self.request_id))
        with self._ready:
            self._ready.notify_all()

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncStream(_Consumer):
    """An async iterator over the items a remote servant produces: use ``async for``.

    Returned by awaited calls (``orb.aio``) whose servant returned an
    iterator, generator or async generator. Call :meth:`aclose` (or use
    ``async with``) to stop early.
    """

    def __init__(self, channel: Channel, request_id: int, inbox: Inbox) -> None:
        super().__init__(channel, request_id)
        self._inbox = inbox
        self._waiter: asyncio.Future[None] | None = None

    def _wake(self) -> None:
        self._inbox.call(self._woken)

    def _woken(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> Any:
        from . import _aiochannel

        while True:
            with self._lock:
                try:
                    found, item, refs, grant = self._next()
                except _Exhausted:
                    raise StopAsyncIteration from None
                if found:
                    break
                self._waiter = waiter = self._inbox.loop.create_future()
            await waiter
        if refs:
            await self._inbox.loop.run_in_executor(None, self.channel.broker._adopt, refs)
        if grant:
            _aiochannel.send_soon(
                self.channel, StreamCredit(request_id=self.request_id, count=grant)
            )
        return item

    async def aclose(self) -> None:
        """Stop the stream; the remote producer stops and its generator is closed."""
        from . import _aiochannel

        if self._close():
            _aiochannel.send_soon(self.channel, StreamClose(request_id=self.request_id))
        self._woken()

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def _abandoned(channel: Channel, request_id: int) -> None:
    # Runs inside garbage collection: start a thread to send, hold no lock here.
    try:
        _thread.start_new_thread(_send_close, (channel, request_id))
    except RuntimeError:  # interpreter shutting down
        pass


def _send_close(channel: Channel, request_id: int) -> None:
    channel._send_quietly(StreamClose(request_id=request_id))


# -- wire handlers (reader thread) --------------------------------------------


def _stream_for(channel: Channel, request_id: int, refs: list[Any]) -> _Consumer | None:
    """The consumer of ``request_id``, opened from the waiting call if this is its first answer."""
    stream = channel._streams.get(request_id)
    if stream is not None:
        return stream
    waiter = channel._pending.pop(request_id, None)
    if waiter is None:
        return None
    stream = waiter.open_stream(channel, request_id)
    waiter.ok = True
    waiter.value = stream
    waiter.lock.release()
    return stream


def on_items(channel: Channel, message: StreamItems) -> None:
    refs = channel._take_refs()
    stream = _stream_for(channel, message.request_id, refs)
    if stream is None:  # nobody consumes it (closed, timed out or dropped): stop it
        channel._send_quietly(StreamClose(request_id=message.request_id))
        return
    stream.feed(message.items, refs)


def on_end(channel: Channel, message: StreamEnd) -> None:
    stream = _stream_for(channel, message.request_id, [])
    if stream is not None:
        channel._streams.pop(message.request_id, None)
        stream.finish(None)


def on_error(channel: Channel, request_id: int, exception: BaseException) -> None:
    """An ERROR for a request that is no longer waiting: it may end a stream."""
    stream = channel._streams.pop(request_id, None)
    if stream is not None:
        stream.finish(exception)


def on_credit(channel: Channel, message: StreamCredit) -> None:
    job = channel._jobs.get(message.request_id)
    if job is not None:
        job.grant(message.count)


def on_close(channel: Channel, message: StreamClose) -> None:
    job = channel._jobs.get(message.request_id)
    if job is not None:
        job.cancel()


def end_all(channel: Channel, reason: str) -> None:
    """The connection closed: fail the streams being consumed, stop the ones produced."""
    streams = list(channel._streams.values())
    channel._streams.clear()
    for stream in streams:
        stream.finish(CommunicationError(
            f"connection to {channel.transport.peer_address} lost during a stream ({reason})"
        ))
    jobs, channel._jobs = channel._jobs, {}
    for job in jobs.values():
        job.cancel()


HANDLERS = {
    StreamItems: on_items,
    StreamEnd: on_end,
    StreamCredit: on_credit,
    StreamClose: on_close,
}


Stream.__module__ = "orb"
AsyncStream.__module__ = "orb.aio"
