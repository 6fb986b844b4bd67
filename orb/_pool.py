"""The worker pool that runs servant methods.

Written instead of ``concurrent.futures.ThreadPoolExecutor`` because the
hot path needs no Future per call, and because a call must never wait
behind another while the pool has room: every submission either claims an
idle worker or starts a new one (up to ``max_workers``), so one slow call
cannot hold up a fast one.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("orb.pool")


class WorkerPool:
    """Runs submitted functions on up to ``max_workers`` daemon threads."""

    def __init__(self, max_workers: int, name: str = "orb-worker") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self.max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[tuple[Callable[..., Any], tuple] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []
        self._closed = False

    def submit(self, func: Callable[..., Any], *args: Any) -> None:
        """Run ``func(*args)`` on a worker; exceptions are logged."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the worker pool is shut down")
            if self._idle:
                self._idle -= 1  # claim a waiting worker
            elif len(self._threads) < self.max_workers:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        self._queue.put((func, args))

    @property
    def size(self) -> int:
        """How many worker threads exist."""
        return len(self._threads)

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            func, args = item
            try:
                func(*args)
            except BaseException:  # a worker must survive anything a task does
                log.exception("unhandled error in %s", getattr(func, "__qualname__", func))
            del item, func, args
            with self._lock:
                self._idle += 1

    def shutdown(self, timeout: float | None = 5.0) -> None:
        """Stop the workers after the queued work; wait up to ``timeout`` seconds in all."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            threads = list(self._threads)
        for _ in threads:
            self._queue.put(None)
        current = threading.current_thread()
        # One deadline for all: servants stuck in long calls must not add up.
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in threads:
            if thread is not current:
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
