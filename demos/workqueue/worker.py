"""The workqueue demo's worker: finds the dispatcher by name and pulls jobs.

``python worker.py NAME``. It binds its own status object as
``workqueue/workers/NAME`` (a name held by a lease its broker renews),
resolves ``workqueue/dispatcher`` through the naming service found by
mDNS, and then takes jobs one at a time until its standard input closes.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any

import orb

WORK_SECONDS = 0.3  # each job also takes this long, to stand for real work


def count_primes(below: int) -> int:
    """The number of primes below ``below`` (a sieve)."""
    sieve = bytearray([1]) * max(below, 2)
    sieve[0:2] = b"\x00\x00"
    for n in range(2, int(below**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, below, n)))
    return sum(sieve)


@orb.expose
class Worker:
    """What the naming service points at for this worker."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.done = 0

    def status(self) -> dict[str, Any]:
        """Name, process id and jobs done."""
        return {"name": self.name, "pid": os.getpid(), "done": self.done}


def main(argv: list[str]) -> int:
    name = argv[0]
    stop = threading.Event()

    def wait_for_end_of_input() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_end_of_input, daemon=True).start()
    with orb.ORB(listen="tcp://127.0.0.1:0", timeout=10.0) as broker:
        worker = Worker(name)
        broker.export(worker, name=f"workqueue/workers/{name}", metadata={"pid": os.getpid()})
        dispatcher = orb.resolve("workqueue/dispatcher")
        print(f"[{name}] pid {os.getpid()}: bound workqueue/workers/{name}, "
              "found workqueue/dispatcher", flush=True)
        print("ready", flush=True)
        while not stop.is_set():
            assignment = dispatcher.take(name)  # a proxy: this broker now holds a lease on it
            if assignment is None:
                continue
            job = assignment.job
            primes = count_primes(job["below"])
            time.sleep(WORK_SECONDS)
            assignment.finish({"below": job["below"], "primes": primes})
            worker.done += 1
            del assignment  # the last proxy goes: the dispatcher collects the assignment
    print(f"[{name}] stopped after {worker.done} jobs", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
