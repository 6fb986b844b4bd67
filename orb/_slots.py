"""The call slots of a channel: a bounded semaphore that is cheap when nobody waits.

``threading.BoundedSemaphore`` enters a ``Condition`` (several Python-level
calls) on every acquire and release, twice per remote call. Here taking or
returning a free slot is one lock round; only a caller that has to wait
for a slot uses the condition.
"""

from __future__ import annotations

import threading


class Slots:
    """``value`` slots; :meth:`acquire` and :meth:`release` as on a BoundedSemaphore."""

    __slots__ = ("_lock", "_cond", "_free", "_limit", "_waiting")

    def __init__(self, value: int) -> None:
        if value < 1:
            raise ValueError("a channel needs at least one call slot")
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._free = value
        self._limit = value
        self._waiting = 0

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        """Take a slot; wait up to ``timeout`` seconds (None: forever) unless not ``blocking``.

        Returns False when none became free in time.
        """
        with self._lock:
            if self._free:
                self._free -= 1
                return True
            if not blocking:
                return False
            self._waiting += 1
            try:
                if not self._cond.wait_for(self._available, timeout):
                    return False
            finally:
                self._waiting -= 1
            self._free -= 1
            return True

    def _available(self) -> bool:
        return self._free > 0

    def release(self) -> None:
        """Give a slot back; raises ValueError when more come back than were taken."""
        with self._lock:
            if self._free >= self._limit:
                raise ValueError("call slot released too many times")
            self._free += 1
            if self._waiting:
                self._cond.notify()
