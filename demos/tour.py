"""A guided tour of orb: run it with ``make demo`` (or ``python demos/tour.py``).

The tour starts real processes on this machine, talking over loopback
only (mDNS included: every process is pinned to 127.0.0.1 through
``ORB_MDNS_INTERFACES``):

1. ``orb certs`` makes a CA and certificates in a temporary directory;
2. the naming daemon ``orb-naming`` starts and advertises itself by mDNS;
3. a server process (demos/tour_server.py) exports a few objects on a free
   port (and on a ``tls://`` port that requires client certificates),
   binds them to names in the naming service it found by mDNS, and
   prints their URIs;
4. a client process (demos/tour_client.py) finds the naming service by
   mDNS, resolves the objects by name and walks through plain calls, a
   callback, passing by reference, an object collected by the distributed
   GC, a remote exception, ``orb.describe``, ``orb.invoke`` and a call
   over mutual TLS;
5. the server and the daemon are stopped cleanly; the server's names go
   away with it.

The exit status is 0 only when every part worked. Each part is a stage
in :data:`stages`; a new part of the tour is one more stage here (or one
more step in the client).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import Cast, demo_env, make_certificates, start_naming, stop_naming
from tourkit import StepFailed, Steps, check, heading, say

HERE = Path(__file__).resolve().parent
# Children find the naming service by mDNS, pinned to loopback so nothing
# leaves this machine, in a naming domain of this tour's own (other naming
# services on the machine do not get in the way).
CHILD_ENV = demo_env("tour")
START_TIMEOUT = 20.0  # seconds for the server to print its URIs
CLIENT_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0


class Tour:
    """State shared by the stages: the processes started, the URIs found, the certificates."""

    def __init__(self, workdir: Path) -> None:
        self.cast = Cast(CHILD_ENV)
        self.uris: dict[str, str] = {}
        self.certs = workdir / "orb-certs"

    def cleanup(self) -> None:
        """Kill whatever is still running (only after a failure)."""
        self.cast.cleanup()


stages: Steps[Tour] = Steps()


@stages.add("make certificates")
def certificates(tour: Tour) -> None:
    """`orb certs` makes a private certificate authority, a certificate for
    the server (127.0.0.1) and one for the client, in a temporary directory.
    The server will also listen on a tls:// port that only admits clients
    with a certificate from this CA."""
    make_certificates(tour.certs, ["tour-client"])


@stages.add("start the naming daemon")
def start_naming_daemon(tour: Tour) -> None:
    """orb-naming maps names to object references. It advertises itself as
    _orb-naming._tcp.local. on mDNS, so servers and clients find it with no
    configuration. (--memory keeps bindings in memory for the tour; by
    default they live in an SQLite file.)"""
    start_naming(tour.cast, "--listen", "tcp://127.0.0.1:0", "--lease", "10",
                 timeout=START_TIMEOUT)


@stages.add("start the server process")
def start_server(tour: Tour) -> None:
    """The server exports three objects on a free loopback port, binds each to
    a name under tour/ in the naming service (found by mDNS), and prints one
    URI per object: a name or a URI is all a client needs to call it. It
    also listens on a tls:// port; "secure" is the inspector's URI there
    (orbs:// can only be dialled over TLS)."""
    server = tour.cast.start("tour_server.py", str(HERE / "tour_server.py"), str(tour.certs))
    for line in server.read_until("ready", START_TIMEOUT):
        name, _, uri = line.partition(" ")
        tour.uris[name] = uri
    print(f"  server process {server.pid} exports:")
    for name, uri in tour.uris.items():
        print(f"    {name:<11} {uri}")
    check(tour.uris, "the server exported nothing")
    check("secure" in tour.uris, "the server should listen on tls:// too")


@stages.add("run the client process")
def run_client(tour: Tour) -> None:
    """A second process finds the naming service by mDNS and resolves the
    objects by name. Each numbered section below shows one feature; the
    client prints it as it runs."""
    args = [f"{name}={uri}" for name, uri in tour.uris.items()] + [f"certs={tour.certs}"]
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
    server = tour.cast["tour_server.py"]
    status = server.stop(STOP_TIMEOUT)
    check(status == 0, f"the server exited with status {status}")
    print(f"  server process {server.pid} stopped cleanly (exit status {status}); "
          "it unbound its names on the way out")


@stages.add("stop the naming daemon")
def stop_naming_daemon(tour: Tour) -> None:
    """SIGTERM stops orb-naming cleanly: it withdraws its mDNS record and
    closes its store."""
    stop_naming(tour.cast["orb-naming"], STOP_TIMEOUT)


def main() -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    print("orb tour".center(72))
    print("=" * 72)
    say("""orb lets one Python process call objects that live in another, through
        proxies that feel local. This tour starts the naming daemon, a server
        process and a client process on this machine (loopback only) and shows
        what happens at each step.""")
    with tempfile.TemporaryDirectory(prefix="orb-tour-") as workdir:
        tour = Tour(Path(workdir))
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
