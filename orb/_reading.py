"""Who reads a channel's connection, and when.

One thread at a time reads a connection: the one holding the channel's
reading *role*. Any thread may hold it:

* a **caller** waiting for its reply reads the connection itself when
  nobody else does, so the reply wakes the thread that waits for it and
  no other (the floor's one context switch per call, not two). While it
  reads it also hands other callers their replies and queues incoming
  calls for the worker pool. When its reply is in, it hands the role on:
  to another blocked caller (woken to read), else to the background
  reader when something else awaits data.
* the **background reader** (one thread per connection) reads when no
  caller does: it serves incoming calls and notices the peer hanging up.
  It runs an incoming call itself, not in a worker, when nothing else
  awaits data on the connection; the broker's :class:`orb._inline.InlineWatch`
  starts a *stand-in* reader when that call runs past its budget, so a
  slow call holds up the rest of its connection for about that long.
  On a connection this side dialed, after it handed a reply to a caller
  that could have read for itself, it steps back for :data:`STEP_BACK`
  seconds so that callers making call after call read their own replies;
  anything that arrives while nobody reads waits at most that long.

A caller with a timeout reads only over transports that can wait for
data with a timeout (``wait_readable``); otherwise it waits for others
to read, as do coroutines and ``orb.future`` callers, whose writes wake
the background reader when it stepped back.
"""

from __future__ import annotations

import builtins
import logging
import threading
import time
from _thread import allocate_lock
from typing import TYPE_CHECKING, Any

from ._errors import ProtocolError
from ._inline import start_standin
from ._wire import NEED_DATA, Call, Oneway

if TYPE_CHECKING:
    from ._channel import Channel

log = logging.getLogger("orb.channel")

#: Seconds the background reader of an outgoing connection leaves the
#: reading to callers after it handed one a reply.
STEP_BACK = 0.01

# Who holds the role.
_BACKGROUND = "background"
_CALLER = "caller"
_STANDIN = "stand-in"
_LOOP = "loop"  # an event loop reads in place of the background thread (orb._loopreading)

# Why a reader stopped reading.
_DONE = 0  # a caller's reply is in, or its deadline passed
_STEP_BACK = 1  # the background reader leaves the reading to callers
_LOST = 2  # an inline call returned and another thread reads now
_CLOSED = 3


class ThreadWaiter:
    """A thread blocked on one call: released (``done``) when its reply is in.

    Whoever takes the waiter out of ``Channel._pending`` fills in ``ok``,
    ``value`` and ``refs`` and calls ``lock.release()`` once (the waiter is
    its own lock, like the waiters of orb._waiters). The reader that leaves
    may also :meth:`promote` it: wake it to read the connection itself.
    """

    __slots__ = ("ok", "value", "method", "refs", "done", "promoted", "_wake")

    def __init__(self, method: str) -> None:
        self._wake = allocate_lock()
        self._wake.acquire()
        self.ok = False
        self.value: Any = None
        self.method = method
        self.refs: list[Any] = []  # new proxies in the reply, to claim leases on
        self.done = False
        self.promoted = False

    @property
    def lock(self) -> ThreadWaiter:
        return self

    def release(self) -> None:
        """The reply (or the failure) is in ``ok``/``value``."""
        self.done = True
        self._signal()

    def promote(self) -> None:
        """Wake the caller to read the connection itself."""
        self.promoted = True
        self._signal()

    def _signal(self) -> None:
        try:
            self._wake.release()
        except RuntimeError:  # already signalled and not yet seen: once is enough
            pass

    def sleep(self, timeout: float) -> bool:
        """Wait until signalled (True) or ``timeout`` seconds passed (-1: forever)."""
        return self._wake.acquire(timeout=timeout)


class Reading:
    """The reading role of one channel and the threads that take turns with it."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.role = allocate_lock()
        self.owner: str | None = None
        self._cond = threading.Condition(threading.Lock())
        self._promote_lock = allocate_lock()  # promotion against a caller withdrawing
        # Callers blocked in wait(), with their request ids: whom to promote.
        self._blocked: dict[ThreadWaiter, int] = {}
        self._wanted = False  # the background reader should try the role now
        self._parked = False  # the background reader waits
        self._wants_role = False  # ... to get the role back: whoever leaves wakes it
        self._stepped_back = False  # ... because callers read for themselves
        self._sync_callers = False  # a caller that could read waited since the last step back
        self._wait_readable = getattr(channel.transport, "wait_readable", None)
        self.loop_reader: Any = None  # orb._loopreading.LoopReader, when a loop reads

    # -- callers ---------------------------------------------------------

    def wait(self, waiter: ThreadWaiter, request_id: int, timeout: float | None) -> bool:
        """Wait for ``waiter``'s reply, reading it when nobody else reads.

        Returns False when ``timeout`` passed first; the waiter is then
        withdrawn from the channel's pending calls.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        can_read = deadline is None or self._wait_readable is not None
        try:
            while not waiter.done:
                waiter.promoted = False  # a promotion is answered by trying the role now
                if self.channel.closed:  # closing: the failure is on its way
                    waiter.sleep(-1 if deadline is None else max(deadline - time.monotonic(), 0))
                elif can_read and self.role.acquire(False):
                    self._read_as_caller(waiter, deadline)
                else:
                    self._sleep(waiter, request_id, deadline, can_read)
                if deadline is not None and not waiter.done and time.monotonic() >= deadline:
                    if waiter.promoted:
                        self._hand_on()
                    return self._withdraw(waiter, request_id)
        except BaseException:
            if waiter.promoted:  # woken to read, but leaving: someone else must
                self._hand_on()
            raise
        if waiter.promoted:  # woken to read, but the reply came first
            self._hand_on()
        return True

    def _read_as_caller(self, waiter: ThreadWaiter, deadline: float | None) -> None:
        self.owner = _CALLER
        try:
            self._read(waiter, deadline)
        finally:
            self._leave()

    def _sleep(
        self, waiter: ThreadWaiter, request_id: int, deadline: float | None, can_read: bool
    ) -> None:
        """Wait until the reply is in or this caller is promoted (woken to read).

        Only while it is listed in ``_blocked`` can a caller be promoted. It
        is listed before it looks at the role once more, so a reader that
        leaves in between either left the role free for it or finds it in
        the list: a caller that reads for itself never touches the list.
        """
        self._blocked[waiter] = request_id
        took_role = False
        try:
            if can_read and self.role.acquire(False):
                took_role = True
            else:
                if can_read:
                    self._sync_callers = True
                elif not self.role.locked():
                    self.wake_background()  # this caller cannot read: someone must
                waiter.sleep(-1 if deadline is None else max(deadline - time.monotonic(), 0.0))
        finally:
            with self._promote_lock:
                del self._blocked[waiter]
        if took_role:
            waiter.promoted = False  # it reads anyway
            self._read_as_caller(waiter, deadline)

    def _withdraw(self, waiter: ThreadWaiter, request_id: int) -> bool:
        with self._promote_lock:
            mine = self.channel._pending.pop(request_id, None) is not None
        if mine:
            return False
        while not waiter.done:  # the reply raced the timeout: it is being handed over
            waiter.sleep(-1)
        return True

    def _promote(self) -> bool:
        """Wake one blocked caller to read; False when there is none."""
        if not self._blocked:
            return False
        pending = self.channel._pending
        with self._promote_lock:
            for waiter, request_id in list(self._blocked.items()):
                if not waiter.done and not waiter.promoted and request_id in pending:
                    waiter.promote()
                    return True
        return False

    def _hand_on(self) -> None:
        """A caller woken to read will not: wake another, or the background reader."""
        if not self._promote() and not self.role.locked():
            self.wake_background()

    def _leave(self) -> None:
        """Give up the role, and see that whoever needs the reading gets it."""
        channel = self.channel
        owner = self.owner
        self.owner = None
        self.role.release()
        if channel.closed:
            self.wake_background()
            return
        if self._promote():
            return
        if owner is _CALLER and self.loop_reader is not None and self.loop_reader.loop.is_closed():
            self.loop_reader.wake()  # the loop ended before the broker: a thread reads now
            return
        if self._wants_role or (
            owner is _CALLER and (channel._pending or channel._jobs or channel._streams)
        ):
            self.wake_background()

    def after_write(self) -> None:
        """A call that its sender will not read for was written: make sure someone reads."""
        if (self._parked or self._stepped_back) and not self.role.locked():
            self.wake_background()  # parked, or about to park: _wanted keeps it awake

    # -- the background reader ---------------------------------------------

    def step_back_first(self) -> None:
        """Before the reader thread starts: leave the first reply to the caller who dialed.

        A new outgoing connection is opened for a call that its caller
        reads itself; a reader thread that took the role first would have
        to hand that reply over.
        """
        self._stepped_back = True

    def background(self) -> None:
        """The reader thread's loop; returns when the channel closes."""
        channel = self.channel
        if self._stepped_back:
            self._park(STEP_BACK)
        while not channel.closed:
            if self.role.acquire(False):
                self.owner = _BACKGROUND
                self._stepped_back = False
                why = _CLOSED
                try:
                    why = self._read(None, None)
                finally:
                    if why != _LOST:
                        self._leave()
                if why == _STEP_BACK:
                    self._stepped_back = True
                    self._park(STEP_BACK)
                elif why == _LOST:
                    self._park(None)
            elif self._stepped_back:
                self._park(STEP_BACK)
            else:
                self._park(None)

    def _park(self, timeout: float | None) -> None:
        with self._cond:
            if timeout is None:
                self._wants_role = True
                if not self.role.locked():
                    self._wants_role = False
                    return
            if not self._wanted and not self.channel.closed:
                self._parked = True
                self._cond.wait(timeout)
                self._parked = False
            self._wanted = False
            self._wants_role = False

    def wake_background(self) -> None:
        """Have the background reader try the role now (and end when closed)."""
        loop_reader = self.loop_reader
        if loop_reader is not None:
            loop_reader.wake()
            return
        with self._cond:
            self._wanted = True
            self._cond.notify()

    def _should_step_back(self) -> bool:
        channel = self.channel
        if not self._sync_callers or channel._jobs or channel._streams:
            return False
        for waiter in list(channel._pending.values()):
            if not isinstance(waiter, ThreadWaiter):  # a coroutine or future: it cannot read
                return False
        self._sync_callers = False
        return True

    def _may_inline(self) -> bool:
        channel = self.channel
        return not (channel._pending or channel._jobs or channel._streams)

    def _serve_inline(self, message: Call | Oneway) -> bool:
        """Run an incoming call on this (background) thread; False when the role was lost."""
        channel = self.channel
        refs = channel._take_refs()
        if not channel._admit(message):
            return True
        # The next call is here already: its reply and this one go out together.
        hold = channel.conn.frame_ready()
        self.owner = None
        self.role.release()  # a caller (even this servant) may read meanwhile
        watch = channel.broker._inline_watch
        watch.begin(self)
        try:
            channel._serve(message, refs, hold)
        except Exception:  # like a worker: log, and keep serving the connection
            log.exception("unhandled error serving %s()", message.method)
        finally:
            watch.end(self)
        if self.role.acquire(False):
            self.owner = _BACKGROUND
            return True
        channel.flush_held()
        return False

    # -- an event loop as the background reader (orb._loopreading) ----------

    def read_on(self, loop: Any, fileno: int) -> None:
        """Have ``loop`` read the connection in place of a reader thread."""
        from ._loopreading import LoopReader

        self.loop_reader = LoopReader(self, loop, fileno)
        self.loop_reader.wake()

    def stop_loop_reading(self, loop_reader: Any) -> None:
        """The loop of ``loop_reader`` is gone: a reader thread takes over (once)."""
        with self._cond:
            if self.loop_reader is not loop_reader:
                return
            self.loop_reader = None
        if not self.channel.closed:
            self.channel.start_reader_thread()

    def take_role_or_wait(self) -> bool:
        """For the loop: take the role (True), or have whoever holds it wake the loop."""
        role = self.role
        while not role.acquire(False):
            self._wants_role = True
            if role.locked():  # checked after saying so: a thread leaving now sees it
                return False
        self._wants_role = False
        self.owner = _LOOP
        return True

    def give_up_role(self) -> None:
        """For the loop, after :meth:`read_available`: leave the role as every reader does."""
        self._leave()

    def read_available(self) -> None:
        """For the loop, holding the role: read what has arrived and handle it, never blocking."""
        channel = self.channel
        conn = channel.conn
        handlers = channel._handlers
        buffered = getattr(channel.transport, "buffered", None)  # TLS: records already read
        reason = "connection closed by peer"
        try:
            channel._receive(nowait=True)
            while not channel.closed:
                event = conn.next_event()
                if event is NEED_DATA:
                    if buffered is None or not buffered():
                        return
                    channel._receive(nowait=True)
                    continue
                cls = type(event)
                if (cls is Call or cls is Oneway) and self._start_if_async(event):
                    continue  # its coroutine runs on this loop
                handler = handlers.get(cls)
                if handler is None:  # ConnectionClosed
                    reason = getattr(event, "reason", "") or reason
                    break
                handler(channel, event)  # other incoming calls go to the worker pool
            else:
                return
        except BlockingIOError:  # woken, but nothing to read after all
            return
        except Exception as exc:
            self._fail(exc)
            return
        channel.close(reason, say_goodbye=False)

    def _start_if_async(self, message: Call | Oneway) -> bool:
        """Start an ``async def`` method's call while holding the role (True): it returns at once.

        Its coroutine runs on the broker's loop, so it neither waits for a
        free worker nor holds up the reading. Other calls, and calls carrying
        proxies (whose leases are claimed first), are left to the caller: False.
        """
        channel = self.channel
        if channel.decoded_refs or not channel.broker._dispatcher.returns_at_once(message):
            return False
        if channel._admit(message):
            try:
                channel._serve(message, [])
            except Exception:  # like a worker: log, and keep reading
                log.exception("unhandled error serving %s()", message.method)
        return True

    def need_standin(self) -> bool:
        """For the inline watch: start a stand-in reader unless someone reads (True: done).

        Replies held back for the overdue call's (see Channel.write) go out now.
        """
        if self.channel.closed:
            return True
        self.channel.flush_held()
        if self.role.locked():
            return False
        start_standin(self._standin, f"orb-reader {self.channel.transport.peer_address}")
        return True

    def _standin(self) -> None:
        if not self.role.acquire(False):
            return
        self.owner = _STANDIN
        try:
            self._read(None, None)
        finally:
            self._leave()

    # -- reading -----------------------------------------------------------

    def _read(self, waiter: ThreadWaiter | None, deadline: float | None) -> int:
        """Read and handle events while holding the role; says why it stopped.

        A caller (``waiter``) reads until its reply is in or ``deadline``
        passes; the background reader until the channel closes, it steps
        back, or an inline call lost it the role; a stand-in until the
        background reader wants the role back.
        """
        channel = self.channel
        conn = channel.conn
        handlers = channel._handlers
        background = self.owner is _BACKGROUND
        may_step_back = background and channel.outgoing
        reason = "connection closed by peer"
        try:
            while not channel.closed:
                event = conn.next_event()
                if event is NEED_DATA:
                    if channel._held:  # replies kept back for calls read since: before waiting
                        channel.flush_held()
                    if waiter is not None:
                        if waiter.done:
                            return _DONE
                        if deadline is not None:
                            remaining = deadline - time.monotonic()
                            if remaining <= 0 or not self._wait_readable(remaining):
                                return _DONE
                    elif background:
                        if may_step_back and self._should_step_back():
                            return _STEP_BACK
                    elif self._wants_role:  # a stand-in: the background reader is back
                        return _DONE
                    try:
                        channel._receive()
                    except builtins.TimeoutError:  # only incoming channels have an idle timeout
                        if channel._pending or channel._incoming or channel._producing:
                            continue
                        reason = f"idle for {channel._idle_timeout:g}s"
                        log.info("closing connection from %s: %s", channel.transport.peer_address,
                                 reason)
                        channel.close(reason)  # with a Goodbye: the peer reconnects when needed
                        return _CLOSED
                    continue
                cls = type(event)
                if cls is Call or cls is Oneway:
                    if background and self._may_inline():
                        if not self._serve_inline(event):
                            return _LOST
                        continue
                    if self._start_if_async(event):
                        continue
                handler = handlers.get(cls)
                if handler is None:  # ConnectionClosed
                    reason = getattr(event, "reason", "") or reason
                    break
                handler(channel, event)
            else:
                return _CLOSED
        except Exception as exc:
            self._fail(exc)
            return _CLOSED
        channel.close(reason, say_goodbye=False)
        return _CLOSED

    def _fail(self, exc: Exception) -> None:
        """Close the channel after reading failed with ``exc``."""
        channel = self.channel
        if isinstance(exc, ProtocolError):
            reason = f"protocol error: {exc}"
            log.warning("closing connection from %s: %s", channel.transport.peer_address, reason)
            channel.close(reason)
            return
        if isinstance(exc, OSError):
            reason = f"connection lost: {exc}"
        else:  # a bug must not leave callers waiting forever
            log.exception("reader of %r failed", channel)
            reason = f"internal error: {exc}"
        channel.close(reason, say_goodbye=False)
