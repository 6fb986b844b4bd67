"""Reading a connection on an event loop instead of a reader thread.

A broker made by ``orb.aio.ORB`` inside a running loop has that loop read
its outgoing connections (``loop.add_reader``), over any transport that can
read without blocking (TCP, Unix sockets, TLS): a reply
completes its coroutine's future right there, with no reader thread to
wake and no hop back to the loop. The loop takes the channel's reading
role (orb._reading) like the reader thread would:

* while another thread holds the role (a blocking caller reading its own
  reply), the loop stops watching the socket; the thread that leaves the
  role wakes it (``Reading.wake_background``);
* incoming calls (callbacks into this broker) go to the worker pool: a
  plain servant method must not block the loop;
* if the loop is closed while the connection lives on (``asyncio.run``
  ended but the broker was not closed), a reader thread takes over.

The loop watches a duplicate of the socket's descriptor, closed only by
the loop: a connection closed from another thread cannot leave the loop
watching a descriptor number that a new socket reuses.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

    from ._reading import Reading


class LoopReader:
    """The background reader of one channel, run by an event loop.

    ``wake`` may be called from any thread; everything else runs on the loop.
    """

    def __init__(self, reading: Reading, loop: asyncio.AbstractEventLoop, fileno: int) -> None:
        self.reading = reading
        self.loop = loop
        self._fd = os.dup(fileno)
        self._lock = threading.Lock()  # the descriptor against closing it twice
        self._watching = False
        self._loop_thread: int | None = None

    def wake(self) -> None:
        """Watch the socket again (and stop when the channel closed); any thread."""
        loop = self.loop
        try:
            if loop.is_closed():
                raise RuntimeError("the event loop is closed")
            if threading.get_ident() == self._loop_thread:
                self._watch()
            else:
                loop.call_soon_threadsafe(self._watch)
        except RuntimeError:
            self._hand_over()

    def _hand_over(self) -> None:
        """The loop is gone: a reader thread reads from now on."""
        self._close_fd()
        self.reading.stop_loop_reading(self)

    def _close_fd(self) -> None:
        with self._lock:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def _watch(self) -> None:
        self._loop_thread = threading.get_ident()
        if self.reading.channel.closed:
            self._unwatch()
            self._close_fd()
            return
        if not self._watching and self._fd >= 0:
            self.loop.add_reader(self._fd, self._readable)
            self._watching = True

    def _unwatch(self) -> None:
        if self._watching:
            self._watching = False
            self.loop.remove_reader(self._fd)

    def _readable(self) -> None:
        reading = self.reading
        if reading.channel.closed:
            self._watch()  # stops watching
            return
        if not reading.take_role_or_wait():
            self._unwatch()  # the thread reading now wakes the loop when it leaves
            return
        try:
            reading.read_available()
        finally:
            reading.give_up_role()
        if reading.channel.closed:
            self._watch()
