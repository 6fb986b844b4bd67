"""Results that are answered later: async servant methods and streams.

Dispatch calls a servant method on a worker thread. Most methods return a
value, which goes back as a Reply at once. Two kinds of result need a
driver instead, and :func:`start` gives them one:

* a coroutine (the method is ``async def``) runs as a task on the broker's
  event loop; its outcome is sent from there, and a CANCEL for the call
  cancels the task, so the method sees ``asyncio.CancelledError``;
* an iterator, generator or async generator is streamed
  (:mod:`orb._streams`, :mod:`orb._producers`).

A coroutine's call stays counted as in flight on its channel until it is
done; a stream counts among the channel's open streams instead
(``Limits.max_streams``, see orb._producers), as the caller freed its
call slot when the stream began. Both stay findable by request id, for
CANCEL and stream credit, until they are done. A plain method's call
cannot be interrupted: a CANCEL only means its reply is dropped by the
caller.
"""

from __future__ import annotations

import logging
import types
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

from ._context import CallContext, reset_current, set_current
from ._errors import CommunicationError
from ._producers import AsyncProducer, SyncProducer
from ._wire import Call, Error, Oneway, Reply

if TYPE_CHECKING:
    from ._channel import Channel
    from ._dispatch import Dispatcher
    from ._table import ObjectTable

log = logging.getLogger("orb.dispatch")

_DRIVEN = (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)


class _Later:
    def __repr__(self) -> str:
        return "LATER"


#: Returned by Dispatcher.run for a call that orb._deferred took over: a
#: job answers it later, or it was refused there (too many open streams),
#: and its count among the channel's calls in flight is no longer the
#: worker's to release.
LATER: Any = _Later()


def needs_driver(value: Any, table: ObjectTable) -> bool:
    """True for a coroutine, or an iterator that is not itself an exposed object."""
    if isinstance(value, _DRIVEN):
        return True
    if isinstance(value, (Iterator, AsyncIterator)):
        return not table.members(type(value))  # an exposed iterator travels by reference
    return False


def start(
    dispatcher: Dispatcher,
    message: Call | Oneway,
    channel: Channel,
    context: CallContext,
    value: Any,
    *,
    counted: bool = False,
) -> bool:
    """Serve ``value`` (see :func:`needs_driver`); the reply is sent when it is ready.

    True when the call is taken over: a job answers it, or a stream was
    refused (answered with an error) because ``Limits.max_streams`` streams
    are open. ``counted``: the call is counted in flight and this runs on
    the worker that serves it, which leaves the count to the job; else
    (on the event loop, for an async method's result) the job counts
    itself.
    """
    request_id = message.request_id if type(message) is Call else None
    if isinstance(value, types.CoroutineType):
        return _AsyncCall(dispatcher, message, channel, context, value).start(counted)
    if request_id is None:  # a one-way call's iterator is never read
        close = getattr(value, "close", None)
        if close is not None:
            close()
        return False
    if isinstance(value, AsyncIterator):
        try:
            loop = channel.broker._loops.servant_loop()
        except RuntimeError as exc:
            channel._send_reply(Error(request_id=request_id, exception=CommunicationError(str(exc))))
            return False
        AsyncProducer(channel, request_id, context, value, loop).start(counted)
        return True
    producer = SyncProducer(channel, request_id, context, value)
    if counted:  # on the worker that serves the call: pull the first items here
        producer.start(counted)
    else:  # on the event loop (an async method returned it): never pull here
        producer.start_elsewhere()
    return True


class _AsyncCall:
    """An ``async def`` servant method running as a task on the broker's loop."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        message: Call | Oneway,
        channel: Channel,
        context: CallContext,
        coro: types.CoroutineType,
    ) -> None:
        self.dispatcher = dispatcher
        self.message = message
        self.request_id = message.request_id if type(message) is Call else None
        self.channel = channel
        self.context = context
        self.coro = coro
        self.task: Any = None
        self.cancelled = False
        self._done = False

    def start(self, counted: bool) -> bool:
        try:
            inbox = self.channel.broker._loops.servant_inbox()
        except RuntimeError as exc:
            self.coro.close()
            self._reply(self.dispatcher.failed(self.message, CommunicationError(str(exc))))
            return False
        self.loop = inbox.loop
        self.channel.job_started(self.request_id, self, counted=counted)
        # Through the inbox: a burst of calls wakes the loop once, not once per call.
        if not inbox.call(self._begin):  # the loop closed just now
            self.coro.close()
            self._finished()
        return True

    def _begin(self) -> None:
        if self.cancelled:
            self.coro.close()
            self._finished()
            return
        self.task = self.loop.create_task(self._run())

    def cancel(self) -> None:
        """A CANCEL arrived, or the connection closed (any thread)."""
        self.cancelled = True
        try:
            self.loop.call_soon_threadsafe(self._cancel_task)
        except RuntimeError:
            pass

    def _cancel_task(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def grant(self, count: int) -> None:
        """Stream credit for a call that has not returned a stream yet: ignored."""

    async def _run(self) -> None:
        import asyncio

        token = set_current(self.context)
        reply: Reply | Error | None
        try:
            try:
                value = await self.coro
            except asyncio.CancelledError as exc:
                if self.cancelled:
                    return  # the caller gave up: nobody waits for a reply
                reply = self._failed(exc)
            except BaseException as exc:
                reply = self._failed(exc)
            else:
                if needs_driver(value, self.dispatcher.table):
                    self._finished()  # the stream (or the next coroutine) takes over
                    start(self.dispatcher, self.message, self.channel, self.context, value)
                    return
                reply = (
                    None if self.request_id is None
                    else Reply(request_id=self.request_id, value=value)
                )
            # Count the call as done before replying: the caller may send its
            # next call the moment the reply arrives.
            self._finished()
            if reply is not None:
                from . import _aiochannel

                await _aiochannel.send_reply(self.channel, reply)
        finally:
            reset_current(token)
            self._finished()

    def _failed(self, exc: BaseException) -> Error | None:
        tb = exc.__traceback__
        if tb is not None and tb.tb_frame.f_code is _AsyncCall._run.__code__:
            exc.__traceback__ = tb.tb_next  # start at the servant's frame
        return self.dispatcher.failed(self.message, exc)

    def _reply(self, reply: Error | None) -> None:
        if reply is not None:
            self.channel._send_reply(reply)

    def _finished(self) -> None:
        if not self._done:
            self._done = True
            self.channel.job_finished(self.request_id, self)
