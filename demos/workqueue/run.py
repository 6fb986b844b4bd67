"""A work queue with workers that come and go: ``python demos/workqueue/run.py``.

The naming daemon, a dispatcher and three workers run as processes on
this machine (loopback only; mDNS pinned to 127.0.0.1). Workers find the
dispatcher by name and pull jobs; this process submits a batch of jobs and
reads the results as a stream while they come in. Halfway through, one
worker is killed with SIGKILL while it holds a job: its lease on the job
runs out, the job goes back in the queue and another worker does it, and
the worker's name disappears from the naming service when its lease
there runs out too.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demos/: the shared helpers

import orb.naming
from _common import (
    Cast,
    demo_env,
    run_demo,
    start_naming,
    stop_naming,
    use_env,
    wait_for,
)
from tourkit import Steps, check

import orb

HERE = Path(__file__).resolve().parent
WORKERS = ("w1", "w2", "w3")
VICTIM = "w2"
JOBS = [{"id": n, "below": 10_000 * n} for n in range(1, 13)]
LEASE = 2.0  # seconds, for the dispatcher's DGC leases and the naming service's bindings
START_TIMEOUT = 20.0


class Demo:
    def __init__(self) -> None:
        self.cast = Cast(demo_env("workqueue"))
        self.dispatcher: orb.Proxy | None = None
        self.results: list[dict] = []
        self.killed_holding: int | None = None  # the job the killed worker held
        self.killed_at = 0.0  # time.monotonic() of the kill


stages: Steps[Demo] = Steps()


def worker_names() -> list[str]:
    return [entry["name"] for entry in orb.naming.naming_proxy().list("workqueue/workers/")]


@stages.add("Start the naming daemon")
def naming(demo: Demo) -> None:
    """orb-naming advertises itself by mDNS (on loopback only, in this demo's
    own naming domain). Names it hands out are held by leases of 2 seconds
    here: a process that stops renewing loses its names soon after."""
    start_naming(demo.cast, "--listen", "tcp://127.0.0.1:0", "--lease", str(LEASE))


@stages.add("Start the dispatcher and three workers")
def start_processes(demo: Demo) -> None:
    """The dispatcher binds itself as workqueue/dispatcher. Each worker binds
    its own status object as workqueue/workers/<name>, resolves the
    dispatcher by name and starts pulling jobs with dispatcher.take(). A
    job travels as an Assignment object, exported on the fly by the
    dispatcher, on which the worker's broker holds a 2-second DGC lease."""
    dispatcher = demo.cast.start("dispatcher", str(HERE / "dispatcher.py"), str(LEASE))
    dispatcher.read_until("ready", START_TIMEOUT)
    workers = [demo.cast.start(name, str(HERE / "worker.py"), name) for name in WORKERS]
    for worker in workers:
        for line in worker.read_until("ready", START_TIMEOUT):
            print(f"  {line}")
    demo.dispatcher = orb.resolve("workqueue/dispatcher")
    print()
    for entry in orb.naming.naming_proxy().list("workqueue/", recursive=True):
        print(f"  {entry['name']:<22} {entry['metadata'] or ''}  expires in "
              f"{entry['expires_in']:.1f} s unless renewed")
    check(worker_names() == [f"workqueue/workers/{w}" for w in WORKERS], "three workers bound")


@stages.add("Submit twelve jobs and stream the results")
def stream_results(demo: Demo) -> None:
    """dispatcher.submit(jobs) is a generator on the dispatcher: its results
    reach this process one by one, as workers finish jobs, while the loop
    below runs. After the second result, worker w2 is killed with SIGKILL
    while it holds a job. It never hands that job in: the dispatcher's
    sweeper finds w2's lease expired, the distributed GC collects the
    assignment, and its __orb_unreferenced__ hook puts the job back in the
    queue for the other workers. (A result w2 handed in just before it died
    may still arrive after the kill.)"""
    dispatcher = demo.dispatcher
    assert dispatcher is not None
    dispatcher_process = demo.cast["dispatcher"]
    print(f"  >>> for result in dispatcher.submit({len(JOBS)} jobs):")
    for result in dispatcher.submit(JOBS):
        for line in dispatcher_process.drain():
            print(f"  {line}")
        demo.results.append(result)
        again = f"   (attempt {result['attempt']})" if result["attempt"] > 1 else ""
        print(f"  job {result['job']:>2}: {result['primes']:>5} primes below "
              f"{result['below']:>6}, by {result['worker']}{again}")
        if len(demo.results) == 2:
            held = wait_for(lambda: dispatcher.assignments().get(VICTIM), 10.0,
                            f"{VICTIM} holding a job")
            victim = demo.cast[VICTIM]
            victim.kill()
            demo.killed_at = time.monotonic()
            demo.killed_holding = held
            print(f"  --- kill -9 {victim.pid} ({VICTIM}, holding job {held}) ---")
    check(demo.killed_holding is not None, "a worker should have been killed")
    done = sorted(r["job"] for r in demo.results)
    check(done == [job["id"] for job in JOBS], f"every job should be done once, got {done}")
    redone = next(r for r in demo.results if r["job"] == demo.killed_holding)
    check(redone["attempt"] == 2 and redone["worker"] != VICTIM,
          f"job {demo.killed_holding} should have been done again by another worker: {redone}")
    print(f"  all {len(JOBS)} results arrived; job {demo.killed_holding} was done by "
          f"{redone['worker']} after {VICTIM} died")


@stages.add("The dead worker's name goes too")
def name_expires(demo: Demo) -> None:
    """w2's binding was held by a lease that its broker renewed. Nothing
    renews it now, so the naming service drops the name when the lease
    runs out. The dispatcher's DGC shows that no assignment is left behind."""
    gone = f"workqueue/workers/{VICTIM}"
    wait_for(lambda: gone not in worker_names(), 4 * LEASE + 5, f"{gone} to expire")
    names = worker_names()
    print('  >>> [e["name"] for e in naming.list("workqueue/workers/")]')
    print(f"  {names}")
    print(f"  ({gone} is gone; {VICTIM} was killed {time.monotonic() - demo.killed_at:.1f} s ago)")
    check(names == [f"workqueue/workers/{w}" for w in WORKERS if w != VICTIM],
          f"the other workers keep their names: {names}")
    dispatcher = demo.dispatcher
    assert dispatcher is not None
    stats = wait_for(lambda: (s := dispatcher.stats())["objects"]["implicit"] == 0 and s,
                     5.0, "the assignments to be collected")
    print("  >>> dispatcher.stats()")
    print(f"  objects   {stats['objects']}")
    print(f"  counts    {stats['dgc']['counts']}")


@stages.add("Stop everything")
def stop(demo: Demo) -> None:
    """Closing a worker's standard input stops it after its current take():
    its broker unbinds its name on the way out. Then the dispatcher and the
    naming daemon stop."""
    workers = [demo.cast[name] for name in WORKERS if name != VICTIM]
    for worker in workers:
        worker.close_input()  # all at once: each may be waiting in take() for a second
    for worker in workers:
        status = worker.stop()
        for line in worker.drain():
            print(f"  {line}")
        check(status == 0, f"{worker.name} exited with status {status}")
    check(worker_names() == [], "the workers unbound their names")
    print("  the workers unbound their names: workqueue/workers/ is empty")
    status = demo.cast["dispatcher"].stop()
    check(status == 0, f"the dispatcher exited with status {status}")
    print(f"  dispatcher stopped cleanly (exit status {status})")
    stop_naming(demo.cast["orb-naming"])


def main() -> int:
    demo = Demo()
    use_env(demo.cast.env)  # this process finds the naming service by mDNS too
    with orb.ORB(timeout=10.0):
        return run_demo(
            "orb demo: a work queue",
            """Workers find a dispatcher by name and pull jobs; the results stream
            back to the submitter. A worker is killed while it holds a job: the
            distributed GC notices, the job is done again elsewhere, and the
            worker's name expires from the naming service.""",
            stages, demo,
            "Every job was done exactly once and the dead worker left nothing behind.",
        )


if __name__ == "__main__":
    sys.exit(main())
