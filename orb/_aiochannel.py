"""The asyncio side of a Channel: calls and sends from a coroutine, without blocking the loop.

There is one implementation of a connection (:class:`orb._channel.Channel`
over the sans-I/O core); this module only lets coroutines use it. A call
registers an :class:`orb._waiters.AsyncPending` under a fresh request id,
and the channel's reader thread completes it through the loop's inbox.

Frames are encoded on the loop and queued in the channel's
:class:`Outbox` for that loop, which writes everything queued in one turn
of the loop at once: on the loop's thread when it is small and no other
thread is writing (a socket write that fits the kernel buffer does not
block), else from a thread of the loop's default executor.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
from typing import TYPE_CHECKING, Any

from ._errors import CommunicationError, LocalProtocolError, OrbError, TimeoutError
from ._waiters import AsyncPending
from ._wire import Cancel, Error, Message, Oneway

if TYPE_CHECKING:
    from ._channel import Channel
    from ._loop import Inbox

log = logging.getLogger("orb.channel")

#: A loop writes at most this many bytes at once on its own thread; more
#: goes to an executor thread.
INLINE_WRITE = 256 * 1024


class Outbox:
    """The frames one event loop sends on one channel, written together.

    The first frame of a turn of the loop is written at once (a lone call
    waits for nothing); frames queued after it in the same turn go out
    together in one socket write when the turn ends, so a task group
    starting a thousand calls costs a few writes, not a thousand. Order is
    kept: while an executor thread writes a large batch, later frames wait
    for it.
    """

    def __init__(self, channel: Channel, inbox: Inbox) -> None:
        self.channel = channel
        self.inbox = inbox  # not the loop itself: the inbox holds it weakly
        self._frames: list[bytes] = []
        self._size = 0
        self._scheduled = False
        self._writing = False  # an executor thread is writing
        self._waiters: list[asyncio.Future[None]] = []

    def add(self, buffers: list[bytes]) -> None:
        """Write frames now if they are the first of this turn, else at its end."""
        if not self._scheduled and not self._writing:
            self._scheduled = True
            self.inbox.loop.call_soon(self.flush)  # ends the turn: later frames wait for it
            if not self._frames and sum(map(len, buffers)) <= INLINE_WRITE:
                try:
                    if self.channel.write(buffers, wait=False):
                        return
                except OrbError:
                    return  # the channel closed: its calls in flight fail from there
        self._frames += buffers
        self._size += sum(map(len, buffers))

    async def add_and_wait(self, buffers: list[bytes]) -> None:
        """Queue frames and wait until they are written (backpressure for large ones)."""
        done = self.inbox.loop.create_future()
        self._waiters.append(done)
        self.add(buffers)
        await done

    def flush(self) -> None:
        self._scheduled = False
        if self._writing:
            return
        if not self._frames:
            _settle(self._waiters, None)
            self._waiters = []
            return
        frames, size, waiters = self._frames, self._size, self._waiters
        self._frames, self._size, self._waiters = [], 0, []
        data = [b"".join(frames)] if len(frames) > 2 else frames
        if size <= INLINE_WRITE:
            try:
                written = self.channel.write(data, wait=False)
            except OrbError as exc:
                _settle(waiters, exc)
                return
            if written:
                _settle(waiters, None)
                return
        self._writing = True
        future = self.inbox.loop.run_in_executor(None, self.channel.write, data)
        future.add_done_callback(lambda f: self._written(f, waiters))

    def _written(self, future: asyncio.Future[Any], waiters: list[asyncio.Future[None]]) -> None:
        self._writing = False
        _settle(waiters, future.exception())
        if self._frames:
            self.flush()


def _settle(waiters: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for waiter in waiters:
        if not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


def outbox(channel: Channel, inbox: Inbox) -> Outbox:
    """The outbox of ``channel`` on the loop of ``inbox``."""
    box = channel.last_outbox  # most channels are used from one loop: spare the weak dictionary
    if box is not None and box.inbox is inbox:
        return box
    box = inbox.outboxes.get(channel)
    if box is None:
        box = inbox.outboxes[channel] = Outbox(channel, inbox)
    channel.last_outbox = box
    return box


def _outbox_here(channel: Channel) -> Outbox:
    loop = asyncio.get_running_loop()
    return outbox(channel, channel.broker._loops.inbox(loop))


async def write(channel: Channel, buffers: list[bytes], box: Outbox | None = None) -> None:
    """Write encoded frames from the loop; raises CommunicationError when the connection is lost.

    Small frames are queued for this turn's write and not waited for (a
    lost connection fails the calls in flight anyway); large ones are
    waited for, so a producer of large items cannot run ahead of the socket.
    """
    if box is None:
        box = _outbox_here(channel)
    if sum(map(len, buffers)) <= INLINE_WRITE:
        if channel.closed:
            raise channel._closed_error()
        box.add(buffers)
    else:
        await box.add_and_wait(buffers)


async def send(channel: Channel, message: Message, box: Outbox | None = None) -> None:
    """Encode and write one message (see :meth:`Channel.send`)."""
    if channel.closed:
        raise channel._closed_error()
    await write(channel, channel.conn.send(message), box)


def send_soon(channel: Channel, message: Message) -> None:
    """Queue a message from the loop without waiting; failures are dropped."""
    try:
        buffers = channel.conn.send(message)
    except OrbError:
        return
    _outbox_here(channel).add(buffers)


async def send_reply(channel: Channel, reply: Any) -> None:
    """Send a Reply or Error from the loop; a result that cannot travel becomes an Error."""
    try:
        buffers = channel.conn.send(reply)
    except (LocalProtocolError, TypeError) as exc:
        try:
            buffers = channel.conn.send(Error(request_id=reply.request_id, exception=exc))
        except OrbError:
            return
    try:
        await write(channel, buffers)
    except CommunicationError:
        log.debug("reply to %s dropped: connection closed", channel.transport.peer_address)


class _QueuedCall:
    """A call that found no free slot: its frame goes out when a slot is handed to it.

    Queued on ``Channel._slot_waiters``; whoever gives a slot back passes it
    on with :meth:`offer` (any thread).
    """

    __slots__ = ("buffers", "channel", "dead", "inbox", "sent")

    def __init__(self, channel: Channel, inbox: Inbox, buffers: list[bytes]) -> None:
        self.channel = channel
        self.inbox = inbox
        self.buffers: list[bytes] | None = buffers
        self.sent = False  # it has the slot and its frame is queued
        self.dead = False  # its caller gave up: a slot offered to it goes to the next

    def offer(self) -> None:
        self.inbox.call(self._offered)

    def _offered(self) -> None:
        if self.dead or self.buffers is None:
            # From the loop, not from here: a run of callers that gave up must
            # not become a deep recursion.
            self.inbox.loop.call_soon(self.channel._release_slot)
            return
        self.sent = True
        buffers, self.buffers = self.buffers, None
        outbox(self.channel, self.inbox).add(buffers)


async def call(
    channel: Channel,
    inbox: Inbox,
    object_id: str,
    method: str,
    args: list,
    kwargs: dict,
    timeout: float | None,
) -> Any:
    """Call ``method`` on the peer's object and await the result (see :meth:`Channel.call`).

    With no call slot free (``Limits.max_pending`` calls in flight) the
    call is queued and sent when one is given back; ``timeout`` counts from
    the call, queueing included.
    """
    if channel.closed:
        raise channel._closed_error()
    request_id = next(channel._request_ids)
    buffers = channel.conn.send_call(request_id, object_id, method, args, kwargs)
    waiter = AsyncPending(method, inbox)
    queued: _QueuedCall | None = None
    if not channel._call_slots.acquire(blocking=False):
        queued = _QueuedCall(channel, inbox, buffers)
        channel._slot_waiters.append(queued)
        if channel._call_slots.acquire(blocking=False):  # one came back before it was queued
            queued.dead = True  # a slot offered to it later is passed on
            queued = None
    pending: dict[int, Any] = channel._pending  # any waiter with a ``lock`` will do
    pending[request_id] = waiter
    try:
        if queued is None:
            box = outbox(channel, inbox)
            if sum(map(len, buffers)) <= INLINE_WRITE:
                box.add(buffers)
            else:
                try:
                    await box.add_and_wait(buffers)
                except BaseException:
                    channel._pending.pop(request_id, None)
                    raise
        try:
            if timeout is None:
                await waiter.future
            else:
                await asyncio.wait_for(waiter.future, timeout)
        except builtins.TimeoutError:
            if channel._pending.pop(request_id, None) is not None:
                if queued is None or queued.sent:
                    send_soon(channel, Cancel(request_id=request_id))
                raise TimeoutError(
                    f"no reply to {method!r} from {channel.transport.peer_address} "
                    f"within {timeout:g}s"
                ) from None
            await waiter.outcome()  # the reply raced the timeout: take it
        except asyncio.CancelledError:
            if channel._pending.pop(request_id, None) is not None and (
                queued is None or queued.sent
            ):
                send_soon(channel, Cancel(request_id=request_id))
            raise
    finally:
        if queued is None or queued.sent:
            channel._release_slot()
        else:
            queued.dead = True
    if waiter.refs:  # claim leases (remote calls) before user code sees the proxies
        await inbox.loop.run_in_executor(None, channel.broker._adopt, waiter.refs)
    if waiter.ok:
        return waiter.value
    error = waiter.value
    del waiter
    try:
        raise error
    finally:
        del error


async def oneway(channel: Channel, object_id: str, method: str, args: list, kwargs: dict) -> None:
    """Send a one-way call; returns once it is written."""
    await send(channel, Oneway(object_id=object_id, method=method, args=args, kwargs=kwargs))
