"""The producer side of streams: pulling a servant's iterator under the caller's credit.

See orb._streams for the protocol. A plain iterator is pulled on worker
threads and gives its thread back while it waits for credit; an async
iterator is driven by a task on the broker's event loop. Both batch items
(``MAX_BATCH``, ``BATCH_BYTES``, ``LINGER``) and stop, closing the
generator, when the consumer closes the stream or the call is cancelled.

An open stream counts against ``Limits.max_streams`` of its channel, not
against ``max_pending``: from its start until it ends or fails, or until
the consumer's STREAM_CLOSE or CANCEL arrives (then at once, so the
consumer may open another stream right after closing one; the producer
stops at its next item). A stream beyond the bound is refused: its
iterator is closed and the call is answered with ``orb.CommunicationError``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ._context import CallContext, reset_current, set_current
from ._errors import CommunicationError, LocalProtocolError, OrbError
from ._streams import BATCH_BYTES, INITIAL_CREDIT, LINGER, MAX_BATCH
from ._wire import Error
from ._wire._messages import StreamEnd, StreamItems

if TYPE_CHECKING:
    import asyncio

    from ._channel import Channel

log = logging.getLogger("orb.streams")

_SIZED = frozenset({bytes, str, bytearray})


class _Producer:
    """What both producers share: credit, the open batch, and encoding it."""

    def __init__(self, channel: Channel, request_id: int, context: CallContext) -> None:
        self.channel = channel
        self.request_id = request_id
        self.context = context
        self.credit = INITIAL_CREDIT
        self.batch: list[Any] = []
        self.batch_bytes = 0
        self.generation = 0  # batches taken so far; a linger timer flushes only its own
        self.opened = False  # the first STREAM_ITEMS is on its way
        self.closed = False  # the consumer is gone: produce nothing more
        self.finished = False  # the end (or an error) was sent
        self._done = False  # no longer counted among the channel's open streams
        self._done_lock = threading.Lock()  # the pump and a cancel may finish at once

    def _add(self, item: Any) -> bool:
        """Append an item to the batch; True when the batch should go now."""
        batch = self.batch
        batch.append(item)
        self.credit -= 1
        self.batch_bytes += len(item) if type(item) in _SIZED else 64
        return len(batch) >= MAX_BATCH or self.batch_bytes >= BATCH_BYTES or self.credit <= 0

    def _take(self, tail: Any) -> tuple[list[Any], bool] | None:
        """The batch to send with ``tail`` (END or Error), or None when nothing is due."""
        if self.finished or self.closed:
            return None
        items, self.batch, self.batch_bytes = self.batch, [], 0
        self.generation += 1
        if not items and self.opened and tail is None:
            return None
        first = not self.opened
        self.opened = True
        if tail is not None:
            self.finished = True
        return items, first

    def _encode(self, items: list[Any], first: bool, tail: Any) -> list[bytes]:
        """The frames of a batch and its tail; an item that cannot travel ends the stream."""
        conn = self.channel.conn
        buffers: list[bytes] = []
        try:
            if items or first:
                _encode_items(conn, self.request_id, items, buffers)
            if tail is not None:
                buffers += conn.send(tail)
        except (LocalProtocolError, TypeError) as exc:
            log.debug("stream %d ends: %s", self.request_id, exc)
            self.closed = self.finished = True
            try:
                buffers = conn.send(StreamItems(request_id=self.request_id, items=[])) if first else []
                buffers += conn.send(Error(request_id=self.request_id, exception=exc))
            except LocalProtocolError:  # the connection closed: nothing can be sent any more
                buffers = []
        return buffers

    def _error(self, exc: BaseException) -> Error:
        exc.__traceback__ = exc.__traceback__ and exc.__traceback__.tb_next  # drop the pump's frame
        return Error(request_id=self.request_id, exception=exc)

    def _open(self, counted: bool, on_loop: bool) -> bool:
        """Count the stream as open on its channel; when too many are, refuse it.

        ``counted``: the call is counted in flight (the worker serving it
        starts the stream); ``on_loop``: this runs on the event loop.
        """
        if self.channel.job_started(self.request_id, self, counted=counted, stream=True):
            return True
        limit = self.channel._max_producing
        log.debug("stream %d refused: %d streams open", self.request_id, limit)
        self.closed = self.finished = self._done = True
        self._close_refused(on_loop)
        error = Error(request_id=self.request_id, exception=CommunicationError(
            f"too many open streams on this connection (limit {limit}, Limits.max_streams)"
        ))
        if on_loop:
            from . import _aiochannel

            _aiochannel.send_soon(self.channel, error)
        else:
            self.channel._send_reply(error)
        return False

    def _close_refused(self, on_loop: bool) -> None:
        raise NotImplementedError

    def _finished(self) -> None:
        """The stream no longer counts as open (called by every ending; runs once)."""
        with self._done_lock:
            if self._done:
                return
            self._done = True
        self.channel.job_finished(self.request_id, self, stream=True)


def _encode_items(conn: Any, request_id: int, items: list[Any], out: list[bytes]) -> None:
    try:
        out += conn.send(StreamItems(request_id=request_id, items=items))
    except LocalProtocolError:  # larger than the peer's frame limit: send it in halves
        if len(items) < 2:
            raise
        half = len(items) // 2
        _encode_items(conn, request_id, items[:half], out)
        _encode_items(conn, request_id, items[half:], out)


class SyncProducer(_Producer):
    """Streams a plain iterator; pulled on worker threads."""

    def __init__(
        self, channel: Channel, request_id: int, context: CallContext, iterator: Iterator[Any]
    ) -> None:
        super().__init__(channel, request_id, context)
        self.iterator = iterator
        self.lock = threading.Lock()  # state shared with the reader thread and the linger timer
        self.send_lock = threading.Lock()  # keeps this stream's frames in order
        self.running = False  # a worker is inside pump()

    def start(self, counted: bool = False) -> None:
        """Begin on the worker thread that ran the servant method."""
        self.running = True  # before a cancel can come: it must not start a second pump
        if self._open(counted, on_loop=False):
            self._arm(0)
            self.pump()

    def start_elsewhere(self) -> None:
        """Begin on a worker thread (called on the event loop, which must not run the iterator)."""
        self.running = True
        if self._open(False, on_loop=True):
            self._arm(0)
            self._resume()

    def _close_refused(self, on_loop: bool) -> None:
        if on_loop:  # closing runs the generator's finally blocks: not on the loop
            try:
                self.channel.broker._pool.submit(self._close_iterator)
                return
            except RuntimeError:  # the broker is shutting down
                pass
        self._close_iterator()

    def pump(self) -> None:
        """Pull items while there is credit; give the thread back when there is none."""
        token = set_current(self.context)
        try:
            self._pump()
        finally:
            reset_current(token)

    def _pump(self) -> None:
        iterator = self.iterator
        while True:
            with self.lock:
                if self.closed:
                    break
                if self.credit <= 0:
                    self.running = False
                    return
            try:
                item = next(iterator)
            except StopIteration:
                self._finished()  # before the end goes out: the caller may call again at once
                self._flush(StreamEnd(request_id=self.request_id))
                return
            except BaseException as exc:
                self._finished()
                self._flush(self._error(exc))
                return
            with self.lock:
                send_now = self._add(item)
                first = len(self.batch) == 1
                generation = self.generation
            if send_now:
                self._flush()
            elif first:
                self._arm(generation)
        self._close_iterator()
        self._finished()

    def _flush(self, tail: Any = None) -> None:
        with self.send_lock:
            with self.lock:
                taken = self._take(tail)
            if taken is None:
                return
            buffers = self._encode(*taken, tail)
            try:
                self.channel.write(buffers)
            except OrbError:  # the connection is gone; the channel stops this stream
                self.closed = True

    def _arm(self, generation: int) -> None:
        try:
            self.channel.broker._loops.call_later(LINGER, self._linger, generation)
        except RuntimeError:  # the broker is closing
            pass

    def _linger(self, generation: int) -> None:  # on the broker's loop
        if self.generation == generation and not (self.finished or self.closed):
            try:
                self.channel.broker._pool.submit(self._flush_due, generation)
            except RuntimeError:
                pass

    def _flush_due(self, generation: int) -> None:
        if self.generation == generation:
            self._flush()

    def grant(self, count: int) -> None:
        """The consumer took ``count`` more items (reader thread)."""
        with self.lock:
            self.credit += count
            resume = not self.running and not self.finished and not self.closed
            if resume:
                self.running = True
        if resume:
            self._resume()

    def cancel(self) -> None:
        """The consumer closed the stream, or the connection closed (any thread)."""
        self._finished()
        with self.lock:
            if self.closed or self.finished:
                return
            self.closed = True
            idle = not self.running
            if idle:
                self.running = True
        if idle:  # paused for credit: a worker closes the iterator
            self._resume()

    def _resume(self) -> None:
        try:
            self.channel.broker._pool.submit(self.pump)
        except RuntimeError:  # the broker is shutting down: close it here
            self._close_iterator()
            self._finished()

    def _close_iterator(self) -> None:
        close = getattr(self.iterator, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("closing the iterator of stream %d failed", self.request_id)


class AsyncProducer(_Producer):
    """Streams an async iterator; driven by a task on the broker's event loop.

    Every method runs on that loop except :meth:`start`, :meth:`grant` and
    :meth:`cancel`, which hand over to it.
    """

    def __init__(
        self,
        channel: Channel,
        request_id: int,
        context: CallContext,
        iterator: AsyncIterator[Any],
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        super().__init__(channel, request_id, context)
        self.iterator = iterator
        self.loop = loop
        self.task: asyncio.Task[None] | None = None
        self.resume: asyncio.Future[None] | None = None
        self.send_lock: asyncio.Lock | None = None

    def start(self, counted: bool = False) -> None:
        """Schedule the pump on the loop (``counted``: from the worker serving the call,
        else from the loop)."""
        if not self._open(counted, on_loop=not counted):
            return
        try:
            self.loop.call_soon_threadsafe(self._begin)
        except RuntimeError:  # the loop is closed
            self._finished()

    def _begin(self) -> None:
        import asyncio

        self.send_lock = asyncio.Lock()
        self.task = self.loop.create_task(self._run())

    async def _run(self) -> None:
        import asyncio

        set_current(self.context)  # the task has its own context
        self._arm(0)
        iterator = self.iterator
        try:
            while not self.closed:
                if self.credit <= 0:
                    self.resume = self.loop.create_future()
                    await self.resume
                    continue
                try:
                    item = await iterator.__anext__()
                except StopAsyncIteration:
                    self._finished()
                    await self._flush(StreamEnd(request_id=self.request_id))
                    return
                except Exception as exc:
                    self._finished()
                    await self._flush(self._error(exc))
                    return
                if self._add(item):
                    await self._flush()
                elif len(self.batch) == 1:
                    self._arm(self.generation)
        except asyncio.CancelledError:
            if not self.closed:
                raise  # the loop is shutting down
        finally:
            if not self.finished:
                await self._aclose_iterator()
            self._finished()

    async def _flush(self, tail: Any = None) -> None:
        from . import _aiochannel

        assert self.send_lock is not None
        async with self.send_lock:
            taken = self._take(tail)
            if taken is None:
                return
            buffers = self._encode(*taken, tail)
            try:
                await _aiochannel.write(self.channel, buffers)
            except OrbError:
                self.closed = True

    def _arm(self, generation: int) -> None:
        self.loop.call_later(LINGER, self._linger, generation)

    def _linger(self, generation: int) -> None:
        if self.generation == generation and not (self.finished or self.closed):
            self.loop.create_task(self._flush())

    def grant(self, count: int) -> None:
        """The consumer took ``count`` more items (reader thread)."""
        self._on_loop(self._granted, count)

    def _granted(self, count: int) -> None:
        self.credit += count
        if self.resume is not None and not self.resume.done():
            self.resume.set_result(None)

    def cancel(self) -> None:
        """The consumer closed the stream, or the connection closed (any thread)."""
        self._finished()
        self._on_loop(self._cancelled)

    def _cancelled(self) -> None:
        if self.closed or self.finished:
            return
        self.closed = True
        if self.task is not None:
            self.task.cancel()

    def _on_loop(self, callback: Any, *args: Any) -> None:
        try:
            self.loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed; so is the stream
            pass

    def _close_refused(self, on_loop: bool) -> None:
        self._on_loop(self._aclose_soon)

    def _aclose_soon(self) -> None:
        self.loop.create_task(self._aclose_iterator())

    async def _aclose_iterator(self) -> None:
        aclose = getattr(self.iterator, "aclose", None)
        if aclose is not None:
            try:
                await aclose()
            except Exception:
                log.exception("closing the async iterator of stream %d failed", self.request_id)
