"""A guided tour of orb: run it with ``make demo`` (or ``python demos/tour.py``).

The tour starts real processes on this machine, talking over loopback
only (mDNS included: every process is pinned to 127.0.0.1 through
``ORB_MDNS_INTERFACES``):

1. the naming daemon ``orb-naming`` starts and advertises itself by mDNS;
2. a server process (demos/tour_server.py) exports a few objects on a free
   port, binds them to names in the naming service it found by mDNS, and
   prints their URIs;
3. a client process (demos/tour_client.py) finds the naming service by
   mDNS, resolves the objects by name and walks through plain calls, a
   callback, passing by reference, a remote exception, ``orb.describe``
   and ``orb.invoke``;
4. the server and the daemon are stopped cleanly; the server's names go
   away with it.

The exit status is 0 only when every part worked. Each part is a stage
in :data:`stages`; a new part of the tour is one more stage here (or one
more step in the client).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tourkit import Steps, StepFailed, check, heading, say

HERE = Path(__file__).resolve().parent
# Children find the naming service by mDNS, pinned to loopback so nothing
# leaves this machine, in a naming domain of this tour's own (other naming
# services on the machine do not get in the way).
CHILD_ENV = {
    **{k: v for k, v in os.environ.items() if k != "ORB_NAMING"},
    "ORB_MDNS_INTERFACES": "127.0.0.1",
    "ORB_NAMING_DOMAIN": f"tour-{os.getpid()}",
}
START_TIMEOUT = 20.0  # seconds for the server to print its URIs
CLIENT_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0


class Process:
    """A child Python process running one of the tour's scripts.

    Its standard output is read line by line on a thread, so the tour can
    wait for a given line with a deadline instead of guessing with sleeps.
    """

    def __init__(self, name: str, *args: str) -> None:
        self.name = name
        self.popen = subprocess.Popen(
            [sys.executable, "-u", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=HERE, env=CHILD_ENV,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, name=f"read {name}", daemon=True).start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def read_until(self, last: str, timeout: float) -> list[str]:
        """The lines printed before ``last``; fails if it does not come in time."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise StepFailed(f"{self.name} did not print {last!r} within {timeout:.0f} s") from None
            if line is None:
                raise StepFailed(f"{self.name} exited (status {self.popen.wait()}) before {last!r}")
            if line == last:
                return lines
            lines.append(line)

    def stop(self, timeout: float) -> int:
        """Close its standard input (the signal to finish) and wait for it to exit."""
        assert self.popen.stdin is not None
        self.popen.stdin.close()
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise StepFailed(f"{self.name} did not exit within {timeout:.0f} s; killed it") from None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait()


class Tour:
    """State shared by the stages: the processes started and the URIs found."""

    def __init__(self) -> None:
        self.processes: dict[str, Process] = {}
        self.uris: dict[str, str] = {}

    def cleanup(self) -> None:
        """Kill whatever is still running (only after a failure)."""
        for process in reversed(self.processes.values()):
            process.kill()


stages: Steps[Tour] = Steps()


@stages.add("start the naming daemon")
def start_naming(tour: Tour) -> None:
    """orb-naming maps names to object references. It advertises itself as
    _orb-naming._tcp.local. on mDNS, so servers and clients find it with no
    configuration. (--memory keeps bindings in memory for the tour; by
    default they live in an SQLite file.)"""
    daemon = tour.processes["naming"] = Process(
        "orb-naming", "-m", "orb.naming", "--listen", "tcp://127.0.0.1:0", "--memory",
        "--lease", "10", "--log-level", "WARNING",
    )
    for line in daemon.read_until("ready", START_TIMEOUT):
        print(f"  {line}")


@stages.add("start the server process")
def start_server(tour: Tour) -> None:
    """The server exports three objects on a free loopback port, binds each to
    a name under tour/ in the naming service (found by mDNS), and prints one
    URI per object: a name or a URI is all a client needs to call it."""
    server = tour.processes["server"] = Process("tour_server.py", str(HERE / "tour_server.py"))
    for line in server.read_until("ready", START_TIMEOUT):
        name, _, uri = line.partition(" ")
        tour.uris[name] = uri
    print(f"  server process {server.popen.pid} exports:")
    for name, uri in tour.uris.items():
        print(f"    {name:<11} {uri}")
    check(tour.uris, "the server exported nothing")


@stages.add("run the client process")
def run_client(tour: Tour) -> None:
    """A second process finds the naming service by mDNS and resolves the
    objects by name. Each numbered section below shows one feature; the
    client prints it as it runs."""
    args = [f"{name}={uri}" for name, uri in tour.uris.items()]
    sys.stdout.flush()
    try:
        status = subprocess.run(
            [sys.executable, "-u", str(HERE / "tour_client.py"), *args],
            cwd=HERE, timeout=CLIENT_TIMEOUT, check=False, env=CHILD_ENV,
        ).returncode
    except subprocess.TimeoutExpired:
        raise StepFailed(f"the client did not finish within {CLIENT_TIMEOUT:.0f} s") from None
    check(status == 0, f"the client process exited with status {status}")


@stages.add("stop the server")
def stop_server(tour: Tour) -> None:
    """Closing the server's standard input tells it to shut its broker down:
    connections close and its threads stop."""
    server = tour.processes["server"]
    status = server.stop(STOP_TIMEOUT)
    check(status == 0, f"the server exited with status {status}")
    print(f"  server process {server.popen.pid} stopped cleanly (exit status {status}); "
          "it unbound its names on the way out")


@stages.add("stop the naming daemon")
def stop_naming(tour: Tour) -> None:
    """SIGTERM stops orb-naming cleanly: it withdraws its mDNS record and
    closes its store."""
    daemon = tour.processes["naming"]
    daemon.popen.send_signal(signal.SIGTERM)
    for line in daemon.read_until("orb-naming stopped", STOP_TIMEOUT):
        print(f"  {line}")
    status = daemon.popen.wait(STOP_TIMEOUT)
    check(status == 0, f"orb-naming exited with status {status}")
    print(f"  orb-naming stopped cleanly (exit status {status})")


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[attr-defined]
    print("orb tour".center(72))
    print("=" * 72)
    say("""orb lets one Python process call objects that live in another, through
        proxies that feel local. This tour starts the naming daemon, a server
        process and a client process on this machine (loopback only) and shows
        what happens at each step.""")
    tour = Tour()
    try:
        failed = stages.run(tour, label="Tour: {title}", rule="=", stop_on_failure=True)
    finally:
        tour.cleanup()
    heading("Tour: done", "=")
    if failed:
        say("The tour FAILED (see above).")
        return 1
    say("The tour is complete: every step worked. Read demos/tour_client.py to see the code "
        "behind each step.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
