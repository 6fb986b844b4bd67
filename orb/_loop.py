"""Event loops a broker works with, and cheap wake-ups of a loop from other threads.

A broker runs ``async def`` servant methods and async-generator streams
on one event loop: a loop thread it owns (started on first use), or the
running loop of the application when the broker was made by
``orb.aio.ORB`` inside one. The same loop serves short timers (batch
linger, call timeouts of ``orb.future``).

Connection reader threads complete asyncio futures of awaiting callers
through an :class:`Inbox`: callbacks queue in a deque and one drain is
scheduled per burst, so a reader that decodes a hundred replies in a row
wakes the loop once, not a hundred times.

asyncio is imported only when a loop is first needed, so ``import orb``
stays light for purely synchronous programs.
"""

from __future__ import annotations

import collections
import logging
import threading
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio

log = logging.getLogger("orb.loop")

#: Seconds close() waits for the loop thread's tasks to finish after cancelling them.
SHUTDOWN_GRACE = 2.0


class Inbox:
    """Runs callbacks on one event loop; ``call`` may be used from any thread.

    Made on the loop's own thread (by :meth:`Loops.inbox`), or for a loop
    running on the thread whose ident is ``thread``; a callback passed from
    that thread runs at once. The inbox holds its loop weakly: a loop that
    was closed and dropped takes its inbox with it.
    """

    __slots__ = ("__weakref__", "_loop", "_queue", "_scheduled", "_thread", "outboxes")

    def __init__(self, loop: asyncio.AbstractEventLoop, thread: int | None = None) -> None:
        self._loop = weakref.ref(loop)
        self._thread = threading.get_ident() if thread is None else thread
        # What this loop writes, per channel (orb._aiochannel.Outbox).
        self.outboxes: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()
        self._queue: collections.deque[tuple[Callable[..., Any], tuple]] = collections.deque()
        self._scheduled = False

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop()
        if loop is None:
            raise RuntimeError("the event loop is gone")
        return loop

    def call(self, callback: Callable[..., Any], *args: Any) -> bool:
        """Run ``callback(*args)`` on the loop: now on its thread, else soon.

        Dropped (False) when the loop is closed.
        """
        if threading.get_ident() == self._thread:
            callback(*args)
            return True
        self._queue.append((callback, args))
        if not self._scheduled:
            # Two threads may both get here and schedule two drains: harmless.
            self._scheduled = True
            loop = self._loop()
            try:
                if loop is None:
                    raise RuntimeError("the event loop is gone")
                loop.call_soon_threadsafe(self._drain)
            except RuntimeError:  # the loop is closed: nobody is left to wake
                self._scheduled = False
                self._queue.clear()
                return False
        return True

    def _drain(self) -> None:
        # Clear the flag first: a callback queued after this point schedules
        # another drain, so none is stranded.
        self._scheduled = False
        queue = self._queue
        for _ in range(len(queue)):
            callback, args = queue.popleft()
            try:
                callback(*args)
            except Exception:
                log.exception("error in loop callback %r", callback)


class Loops:
    """The servant loop of one broker, and one inbox per loop that awaits its calls."""

    def __init__(self, name: str = "orb-loop") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._inboxes: weakref.WeakKeyDictionary[Any, Inbox] = weakref.WeakKeyDictionary()
        self._last_inbox: Inbox | None = None
        self._servant_inbox: Inbox | None = None
        self._closed = False

    def adopt(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve async methods on ``loop`` (the application's) instead of an own thread."""
        with self._lock:
            if self._thread is not None:
                raise RuntimeError("this broker already serves async methods on its own loop")
            self._loop = loop
        self._servant_inbox = self.inbox(loop)  # adopt() runs on the loop's thread

    def servant_inbox(self) -> Inbox:
        """The inbox of :meth:`servant_loop`: callbacks from other threads wake it once per burst."""
        loop = self.servant_loop()
        inbox = self._servant_inbox
        if inbox is None or inbox._loop() is not loop:
            with self._lock:  # a loop thread being started publishes its inbox under the lock
                inbox = self._servant_inbox
            if inbox is None or inbox._loop() is not loop:
                raise RuntimeError("the broker's event loop closed")
        return inbox

    def reading_loop(self) -> asyncio.AbstractEventLoop | None:
        """The application's loop adopted by :meth:`adopt`, while it is open; else None.

        That loop reads the broker's outgoing connections (orb._loopreading).
        """
        loop = self._loop
        if loop is None or self._thread is not None or loop.is_closed():
            return None
        return loop

    def servant_loop(self) -> asyncio.AbstractEventLoop:
        """The loop that runs async servant methods, starting the loop thread if needed.

        When an adopted loop has been closed (its ``asyncio.run`` ended while
        the broker lives on), the broker starts its own loop thread instead.
        """
        loop = self._loop
        if loop is not None and not loop.is_closed():
            return loop
        with self._lock:
            if self._closed:
                raise RuntimeError("the broker is closed")
            if self._loop is None or self._loop.is_closed():
                self._start()
            assert self._loop is not None
            return self._loop

    def _start(self) -> None:
        import asyncio

        loop = asyncio.new_event_loop()
        started = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(loop, started), name=self._name, daemon=True
        )
        thread.start()
        started.wait()
        inbox = Inbox(loop, thread=thread.ident)
        self._inboxes[loop] = inbox
        # Publish the inbox before the loop: servant_loop() reads _loop unlocked.
        self._servant_inbox = inbox
        self._loop, self._thread = loop, thread

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        import asyncio

        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        try:
            loop.run_forever()
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=SHUTDOWN_GRACE))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        except Exception:
            log.exception("the broker's event loop failed")
        finally:
            loop.close()

    def inbox(self, loop: asyncio.AbstractEventLoop) -> Inbox:
        """The inbox of ``loop``, the running loop of the calling thread (made on first use)."""
        last = self._last_inbox  # every awaited call asks: spare it the weak dictionary
        if last is not None and last._loop() is loop:
            return last
        inbox = self._inboxes.get(loop)
        if inbox is None:
            with self._lock:
                inbox = self._inboxes.get(loop)
                if inbox is None:
                    inbox = self._inboxes[loop] = Inbox(loop)
        self._last_inbox = inbox
        return inbox

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> None:
        """Run ``callback(*args)`` on the servant loop after ``delay`` seconds (any thread)."""
        loop = self.servant_loop()
        try:
            loop.call_soon_threadsafe(loop.call_later, delay, callback, *args)
        except RuntimeError:  # closed meanwhile: the broker is shutting down
            log.debug("timer dropped: the event loop is closed")

    def close(self) -> None:
        """Stop the loop thread (cancelling its tasks); an adopted loop is left running."""
        with self._lock:
            self._closed = True
            loop, thread = self._loop, self._thread
        if thread is None or loop is None:
            return
        try:
            loop.call_soon_threadsafe(loop.stop)
        except RuntimeError:
            return
        if thread is not threading.current_thread():
            thread.join(SHUTDOWN_GRACE + 3)
