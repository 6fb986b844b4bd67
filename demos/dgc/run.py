"""Distributed garbage collection, watched: ``python demos/dgc/run.py``.

A server process lends out sessions: objects exported on the fly, which
live only while some client holds a proxy to them. Two client processes
open sessions; one lets some go, the other is killed with SIGKILL. After
each event the demo prints the server's ``broker.stats()`` and the lines
its ``__orb_unreferenced__`` hook wrote, so you can watch the objects go.

The server grants leases of 2 seconds (the default is 60) so the demo
runs in seconds. Everything runs on loopback.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demos/: the shared helpers

from _common import Cast, demo_env, run_demo, short_id, wait_for
from tourkit import Steps, check

import orb

HERE = Path(__file__).resolve().parent
LEASE = 2.0  # seconds; the server grants this, clients renew at half of it
START_TIMEOUT = 20.0


class Demo:
    """What the stages share: the processes, the library proxy, and who is who."""

    def __init__(self) -> None:
        self.cast = Cast(demo_env("dgc"))
        self.library: orb.Proxy | None = None
        self.names: dict[str, str] = {}  # ORB id (hex) -> client name
        self.uris: dict[str, list[str]] = {}  # client name -> its sessions' URIs
        self.opened = 0.0  # when alice had opened her sessions (time.monotonic())

    def stats(self) -> dict:
        assert self.library is not None
        return self.library.stats()

    def implicit(self) -> int:
        return self.stats()["objects"]["implicit"]

    def show_stats(self, note: str = "") -> dict:
        """Print the parts of the server's broker.stats() that the DGC changes."""
        stats = self.stats()
        dgc = stats["dgc"]
        print(f"  >>> library.stats()    # the server's broker.stats(){note}")
        print(f"  objects   {stats['objects']}")
        print("  holders   {    # object id: the clients holding a lease on it"
              if dgc["holders"] else "  holders   {}")
        for object_id, held in dgc["holders"].items():
            names = [self.names.get(h, short_id(h)) for h in held]
            print(f"    {short_id(object_id)!r}: {names},")
        if dgc["holders"]:
            print("  }")
        print(f"  counts    {dgc['counts']}")
        return stats

    def server_lines(self, count: int, timeout: float) -> list[str]:
        """Wait for ``count`` 'collected' lines from the server and print them."""
        server = self.cast["server"]
        collected: list[str] = []
        while len(collected) < count:
            for line in server.expect(lambda text: "collected" in text, timeout):
                print(f"  {line}")
                if "collected" in line:
                    collected.append(line)
        return collected


stages: Steps[Demo] = Steps()


def start_client(demo: Demo, name: str, count: int) -> None:
    assert demo.library is not None
    client = demo.cast.start(name, str(HERE / "client.py"), name, str(orb.ref(demo.library)),
                             str(count))
    uris = demo.uris[name] = []
    for line in client.read_until("ready", START_TIMEOUT):
        if " ORB id " in line:
            demo.names[line.rsplit(" ", 1)[1]] = name
            print(f"  {line[: line.index('ORB id ') + 15]}...")
        else:
            uris.append(line.rsplit(" ", 1)[1])
            print(f"  {line.rsplit(' at ', 1)[0]}")


@stages.add("A server that lends out sessions")
def start_server(demo: Demo) -> None:
    """The server exports a Library explicitly: explicit exports are pinned
    and never collected. Library.open() returns a new Session; returning
    an exposed object exports it implicitly, and the distributed GC frees
    it once no client holds a lease on it. The server grants 2-second
    leases. Next to the library, every broker pins its own DGC object."""
    server = demo.cast.start("server", str(HERE / "server.py"), str(LEASE))
    uri = server.read_until("ready", START_TIMEOUT)[0]
    print(f"  library at {uri}")
    demo.library = orb.proxy(uri)
    stats = demo.show_stats()
    check(stats["objects"] == {"total": 2, "pinned": 2, "implicit": 0},
          f"unexpected objects at the start: {stats['objects']}")


@stages.add("Two clients open sessions")
def open_sessions(demo: Demo) -> None:
    """alice opens four sessions and bob two. Each proxy that arrives in a
    client makes its broker claim a lease at the server (a "dirty" call)
    before the proxy is handed over; the broker renews all its leases with
    one call every half lease. The holders column shows who holds what."""
    start_client(demo, "alice", 4)
    demo.opened = time.monotonic()
    start_client(demo, "bob", 2)
    stats = demo.show_stats()
    check(stats["objects"]["implicit"] == 6, f"expected 6 sessions, got {stats['objects']}")
    holders = sorted(demo.names[h] for held in stats["dgc"]["holders"].values() for h in held)
    check(holders == ["alice"] * 4 + ["bob"] * 2, f"unexpected holders {holders}")


@stages.add("alice lets go of three proxies")
def drop_proxies(demo: Demo) -> None:
    """When the last proxy for a remote object is garbage collected in the
    client, its broker sends "clean" to the owner in the background. The
    server unexports the session at once and calls its
    __orb_unreferenced__ hook, which prints a line."""
    alice = demo.cast["alice"]
    alice.send("drop 3")
    for line in alice.read_until("done", START_TIMEOUT):
        print(f"  {line}")
    demo.server_lines(3, 10.0)
    wait_for(lambda: demo.implicit() == 3, 5.0, "three sessions left")
    stats = demo.show_stats()
    check(stats["dgc"]["counts"]["collected"] == 3, "three sessions should have been collected")


@stages.add("A URI is not a lease")
def uri_is_not_a_lease(demo: Demo) -> None:
    """This process kept the URI of one of alice's dropped sessions. A URI is
    only an address; it does not keep the object alive. Calling it now
    raises orb.ObjectNotFound, which says the object was collected."""
    uri = demo.uris["alice"][0]
    print(f'  >>> orb.proxy("{uri[:32]}...").read()')
    try:
        orb.proxy(uri).read()
    except orb.ObjectNotFound as exc:
        print(f"  orb.ObjectNotFound: {exc}")
        check("collected" in str(exc), "the error should say the session was collected")
    else:
        check(False, "a collected session should raise orb.ObjectNotFound")


@stages.add("bob is killed with SIGKILL")
def kill_bob(demo: Demo) -> None:
    """A killed process sends no "clean". Its leases simply stop being
    renewed: the server's sweeper drops them once they expire, within one
    lease (2 s) plus one sweep, and collects bob's two sessions."""
    bob = demo.cast["bob"]
    started = time.monotonic()
    bob.kill()
    print(f"  kill -9 {bob.pid}   (bob)")
    demo.server_lines(2, LEASE * 5)
    elapsed = time.monotonic() - started
    print(f"  bob's sessions were collected {elapsed:.1f} s after the kill (lease {LEASE:g} s)")
    wait_for(lambda: demo.implicit() == 1, 5.0, "one session left")
    stats = demo.show_stats()
    holders = [demo.names.get(h) for held in stats["dgc"]["holders"].values() for h in held]
    check(holders == ["alice"], f"only alice should hold a session now, not {holders}")


@stages.add("alice's last session outlives its lease")
def still_alive(demo: Demo) -> None:
    """alice still holds her fourth session, three lease periods after she
    opened it. Her broker renewed the lease in the background (the "renew"
    count), so the session is alive and keeps its state."""
    alice = demo.cast["alice"]
    wait_for(lambda: time.monotonic() - demo.opened >= 3 * LEASE, 4 * LEASE,
             "three lease periods")
    print(f"  alice has held it for {time.monotonic() - demo.opened:.1f} s")
    alice.send("read")
    lines = alice.read_until("done", START_TIMEOUT)
    for line in lines:
        print(f"  {line}")
    check(any("session alice-4, read 2 time(s)" in line for line in lines),
          "alice's last session should still answer")
    stats = demo.show_stats()
    check(stats["dgc"]["counts"]["renew"] > 0, "alice's broker should have renewed its lease")


@stages.add("alice exits")
def alice_exits(demo: Demo) -> None:
    """Closing a broker cleans every lease it holds, so the server collects
    alice's last session at once, without waiting for the lease to run
    out. Only the pinned objects are left."""
    alice = demo.cast["alice"]
    status = alice.stop()
    for line in alice.drain():
        print(f"  {line}")
    check(status == 0, f"alice exited with status {status}")
    demo.server_lines(1, 10.0)
    wait_for(lambda: demo.implicit() == 0, 5.0, "no sessions left")
    stats = demo.show_stats()
    check(stats["objects"] == {"total": 2, "pinned": 2, "implicit": 0},
          f"only the pinned objects should be left: {stats['objects']}")


@stages.add("Stop the server")
def stop_server(demo: Demo) -> None:
    """Closing its standard input shuts the server's broker down."""
    server = demo.cast["server"]
    status = server.stop()
    check(status == 0, f"the server exited with status {status}")
    print(f"  server stopped cleanly (exit status {status})")


def main() -> int:
    demo = Demo()
    with orb.ORB(timeout=10.0):  # this process's broker: it calls library.stats()
        return run_demo(
            "orb demo: distributed garbage collection",
            """Objects exported on the fly (returned or passed by reference) are
            freed when no client holds a proxy to them any more, and when a
            client dies. This demo starts a server and two clients and prints
            the server's broker.stats() after each event.""",
            stages, demo,
            "Every session was collected: dropped, killed or closed, no object leaked.",
        )


if __name__ == "__main__":
    sys.exit(main())
