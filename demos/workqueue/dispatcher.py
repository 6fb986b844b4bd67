"""The workqueue demo's dispatcher: hands out jobs to workers that pull them.

``python dispatcher.py LEASE``. It binds itself as ``workqueue/dispatcher``
in the naming service (found by mDNS) and grants DGC leases of LEASE
seconds. Each job a worker takes travels as an :class:`Assignment`, an
object exported on the fly that the worker's broker holds a lease on. If
the worker dies, that lease runs out, the distributed GC collects the
assignment, and its ``__orb_unreferenced__`` hook puts the job back in the
queue. Prints ``ready``, then a line whenever a job goes back; stops when
its standard input closes.
"""

from __future__ import annotations

import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any

import orb


@orb.expose
class Assignment:
    """One job, lent to one worker until it finishes it (or dies holding it)."""

    def __init__(self, dispatcher: Dispatcher, job: dict[str, Any], worker: str) -> None:
        self._dispatcher = dispatcher
        self._job = job
        self.worker = worker
        self.finished = False

    @property
    def job(self) -> dict[str, Any]:
        """What to do."""
        return self._job

    def finish(self, result: dict[str, Any]) -> None:
        """Hand in the result (the job is done, whatever happens to the worker next)."""
        self.finished = True
        self._dispatcher._done(self, result)

    def __orb_unreferenced__(self) -> None:
        # The worker let go of the assignment: after finish() that is the end
        # of it; without, the worker died or gave up, and the job goes back.
        if not self.finished:
            self._dispatcher._requeue(self)


@orb.expose
class Dispatcher:
    """A queue of jobs that workers pull, and a stream of results for the submitter."""

    def __init__(self) -> None:
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue()
        self._results: queue.Queue[dict[str, Any]] = queue.Queue()
        self._lock = threading.Lock()
        self._held: dict[str, Assignment] = {}  # by worker name

    def submit(self, jobs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Queue the jobs and stream their results back as workers finish them."""
        for job in jobs:
            self._queue.put({**job, "attempt": 1})
        for _ in jobs:
            yield self._results.get()

    def take(self, worker: str, wait: float = 1.0) -> Assignment | None:
        """The next job for ``worker``, waiting up to ``wait`` seconds (None: nothing to do)."""
        try:
            job = self._queue.get(timeout=wait)
        except queue.Empty:
            return None
        assignment = Assignment(self, job, worker)
        with self._lock:
            self._held[worker] = assignment
        return assignment  # returned by reference: exported on the fly, leased by the worker

    def assignments(self) -> dict[str, int]:
        """The job each worker is holding now, by worker name."""
        with self._lock:
            return {worker: a.job["id"] for worker, a in self._held.items()}

    def stats(self) -> dict[str, Any]:
        """This dispatcher's ``broker.stats()``."""
        return orb.current().broker.stats()

    def _done(self, assignment: Assignment, result: dict[str, Any]) -> None:
        with self._lock:
            if self._held.get(assignment.worker) is assignment:
                del self._held[assignment.worker]
        self._results.put({**result, "job": assignment.job["id"], "worker": assignment.worker,
                           "attempt": assignment.job["attempt"]})

    def _requeue(self, assignment: Assignment) -> None:
        with self._lock:
            if self._held.get(assignment.worker) is assignment:
                del self._held[assignment.worker]
        job = assignment.job
        sys.stdout.write(f"[dispatcher] job {job['id']} was held by {assignment.worker}, "
                         "whose lease ran out: back in the queue\n")
        sys.stdout.flush()
        self._queue.put({**job, "attempt": job["attempt"] + 1})


def main(argv: list[str]) -> int:
    lease = float(argv[0]) if argv else 2.0
    with orb.ORB(listen="tcp://127.0.0.1:0", lease=lease) as broker:
        broker.export(Dispatcher(), name="workqueue/dispatcher")
        print("ready", flush=True)
        sys.stdin.read()  # serve until the demo closes our standard input
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
