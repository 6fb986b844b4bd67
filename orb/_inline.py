"""Watch over incoming calls run by a channel's reader thread.

A channel's background reader runs an incoming call itself instead of
handing it to a worker: that saves a thread hand-off (two context
switches) per call. While it runs, nobody reads that connection, so a
call still running after :data:`INLINE_BUDGET` seconds gets a stand-in:
the :class:`InlineWatch` starts a thread that reads in its place (further
calls go to the worker pool meanwhile), so a slow call holds up the
others on its connection for about that long, no more.

One watch thread per broker, started on first use; it ticks only while
calls run inline and sleeps once they stop.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

#: Seconds an incoming call may run on the reader before another thread reads instead.
INLINE_BUDGET = 0.005

# Seconds without inline calls after which the watch thread sleeps until the next one.
_IDLE_AFTER = 1.0


class InlineWatch:
    """Starts a stand-in reader for channels whose reader runs a call for too long.

    ``begin(reading)`` before a channel's reader runs a call, ``end(reading)``
    after it; ``reading.need_standin()`` (see orb._reading) is called on
    the watch thread, each tick, for a call that overran its budget, until
    it returns True.
    """

    def __init__(self, budget: float = INLINE_BUDGET, name: str = "orb-inline-watch") -> None:
        self.budget = budget
        self._name = name
        self._running: dict[Any, float] = {}  # reading -> when its call began
        self._started = 0  # inline calls begun, ever: tells the thread whether any ran
        self._cond = threading.Condition(threading.Lock())
        self._sleeping = True
        self._thread: threading.Thread | None = None
        self._closed = False

    def begin(self, reading: Any) -> None:
        """A channel's reader starts running a call (one at a time per channel)."""
        self._running[reading] = time.monotonic()
        self._started += 1
        if self._sleeping:
            self._wake()

    def end(self, reading: Any) -> None:
        """The call that ``reading``'s reader ran returned."""
        self._running.pop(reading, None)

    def _wake(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._sleeping = False
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            else:
                self._cond.notify()

    def _run(self) -> None:
        tick = self.budget / 2
        seen = self._started
        quiet_since = time.monotonic()
        while True:
            with self._cond:
                if self._closed:
                    return
                if self._sleeping:
                    self._cond.wait()
                    quiet_since = time.monotonic()
                    continue
                self._cond.wait(tick)
                if self._closed:
                    return
            now = time.monotonic()
            overdue = [
                (reading, since)
                for reading, since in list(self._running.items())
                if now - since >= self.budget
            ]
            for reading, since in overdue:
                # Once a stand-in reads (or the channel closed), stop watching
                # this call, unless that reader already began another one.
                if reading.need_standin() and self._running.get(reading) == since:
                    self._running.pop(reading, None)
            if self._started != seen or self._running:
                seen = self._started
                quiet_since = now
            elif now - quiet_since >= _IDLE_AFTER:
                with self._cond:
                    # Say "sleeping" first, then look again: begin() registers its
                    # call before it reads _sleeping, so no call goes unwatched.
                    self._sleeping = True
                    if self._started != seen or self._running:
                        self._sleeping = False

    def close(self) -> None:
        """Stop the watch thread."""
        with self._cond:
            self._closed = True
            self._cond.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)


def start_standin(target: Callable[[], None], name: str) -> None:
    """Run ``target`` on a new daemon thread."""
    threading.Thread(target=target, name=name, daemon=True).start()
