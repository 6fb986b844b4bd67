"""Collection across processes: clients killed, owners killed, restarted and suspended."""

from __future__ import annotations

import gc
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dgc_support import Factory, Keeper, Shared, dgc, wait_until
from peers.launch import PeerProcess

import orb

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dgc_peer.py")
LEASE = 1.0


def peer(*args: str) -> PeerProcess:
    return PeerProcess(PEER, *args)


@pytest.fixture
def owner() -> Iterator[orb.ORB]:
    with orb.ORB(listen="tcp://127.0.0.1:0", config=dgc(LEASE, sweep=0.1)) as broker:
        yield broker


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_killed_client_loses_its_claim_within_one_lease(owner: orb.ORB) -> None:
    factory = Factory()
    client = peer("client", str(owner.ref(factory)), "--lease", str(LEASE))
    try:
        object_id = client.info["object_id"]
        assert owner.stats()["dgc"]["holders"] == {object_id: [client.info["orb_id"]]}
        client.kill()  # SIGKILL: no clean, no goodbye
        killed = time.monotonic()
        assert factory.freed.wait_for("held by a client process", timeout=LEASE + 3)
        elapsed = time.monotonic() - killed
    finally:
        client.kill()
    # Freed by the lease, not by the lost connection: not before the last
    # renewal's lease could run out, and within one lease plus one sweep.
    assert LEASE / 4 <= elapsed <= LEASE + 0.1 + 1.0
    assert owner.stats()["objects"]["implicit"] == 0


def test_two_clients_one_killed_the_object_lives_on_for_the_other(owner: orb.ORB) -> None:
    factory = Factory()
    shared = Shared(factory)
    uri = str(owner.ref(shared))
    doomed = peer("client", uri, "--lease", str(LEASE))
    try:
        with orb.ORB(lease=LEASE) as survivor:
            thing = survivor.proxy(uri).make("")
            shared.forget()
            object_id = orb.ref(thing).object_id
            holders = owner.stats()["dgc"]["holders"][object_id]
            assert sorted(holders) == sorted([doomed.info["orb_id"], survivor.orb_id.hex()])
            doomed.kill()
            wait_until(
                lambda: owner.stats()["dgc"]["holders"].get(object_id) == [survivor.orb_id.hex()],
                timeout=LEASE + 3, what="the killed client's claim to expire",
            )
            renewals = owner.stats()["dgc"]["counts"]["renew"]
            wait_until(lambda: owner.stats()["dgc"]["counts"]["renew"] >= renewals + 3,
                       timeout=LEASE * 3, what="more renewals")
            assert thing.ping() == "shared"
            assert factory.freed.labels == []
            del thing
            gc.collect()
            assert factory.freed.wait_for("shared", timeout=2)
    finally:
        doomed.kill()


def test_forwarded_reference_survives_across_processes(owner: orb.ORB) -> None:
    # A (another process) gets C's object, passes it to B in a one-way call and
    # drops its own proxy at once; B cannot claim it until its worker is free.
    factory, keeper = Factory(), Keeper()
    with orb.ORB(listen="tcp://127.0.0.1:0", config=dgc(LEASE, max_workers=1)) as b:
        b.export(keeper)
        blocker = orb.ORB()
        forwarder = peer("forwarder", str(owner.ref(factory)), str(b.ref(keeper)), "--lease", "10")
        try:
            assert forwarder.readline() == "READY"
            remote = blocker.proxy(b.ref(keeper))
            thread = threading.Thread(target=remote.block)
            thread.start()
            assert keeper.blocking.wait(5)
            forwarder.proc.stdin.write(b"go\n")
            forwarder.proc.stdin.flush()
            assert forwarder.readline() == "DROPPED"
            sweeps = owner.stats()["dgc"]["counts"]["sweeps"]
            # two leases' worth of sweeps: an unrenewed claim would be gone
            wait_until(lambda: owner.stats()["dgc"]["counts"]["sweeps"] >= sweeps + 20,
                       timeout=10, what="sweeps")
            assert owner.stats()["objects"]["implicit"] == 1
            keeper.release.set()
            thread.join(5)
            assert keeper.got.wait(5)
            assert keeper.kept["thing"].ping() == "forwarded"
            holders = next(iter(owner.stats()["dgc"]["holders"].values()))
            assert b.orb_id.hex() in holders
            assert factory.freed.labels == []
        finally:
            keeper.release.set()
            forwarder.stop()
            blocker.close()


@pytest.fixture
def server_port() -> int:
    return free_port()


def start_server(port: int, lease: float = LEASE) -> PeerProcess:
    return peer("server", "--listen", f"tcp://127.0.0.1:{port}", "--lease", str(lease),
                "--sweep", "0.1")


def test_restarted_owner_gives_stale_proxies_object_not_found(
    server_port: int, orb_log: Any
) -> None:
    server = start_server(server_port)
    try:
        with orb.ORB(lease=LEASE) as client:
            thing = client.proxy(server.uris["factory"]).make("stale")
            assert thing.ping() == "stale"
            server.kill()
            started = time.monotonic()
            with pytest.raises(orb.CommunicationError):
                thing.ping()  # down: refused at once, no hang
            assert time.monotonic() - started < 3
            server = start_server(server_port)
            started = time.monotonic()
            with pytest.raises(orb.ObjectNotFound):
                thing.ping()
            assert time.monotonic() - started < 3
            # the renewal learns the object is gone and stops holding it
            wait_until(lambda: client.stats()["dgc"]["leases"]["held"] == {}, timeout=LEASE * 3,
                       what="the stale lease to be dropped")
            orb_log.wait_for("are gone")
            fresh = client.proxy(server.uris["factory"]).make("fresh")
            assert fresh.ping() == "fresh"
    finally:
        server.kill()


def test_suspended_owner_comes_back_and_leases_survive(server_port: int, orb_log: Any) -> None:
    lease = 2.0
    server = start_server(server_port, lease=lease)
    try:
        with (
            orb.ORB(lease=lease) as client,
            orb.ORB(listen="tcp://127.0.0.1:0") as unrelated,
        ):
            thing = client.proxy(server.uris["factory"]).make("suspended")
            probe = client.proxy(server.uris["probe"])
            object_id = orb.ref(thing).object_id
            other = client.proxy(unrelated.ref(Factory())).make("unrelated")
            failures = client.stats()["dgc"]["leases"]["counts"]["failures"]
            os.kill(server.proc.pid, signal.SIGSTOP)
            try:
                # Stopped until two renewal attempts have failed: by then the
                # client's last successful renewal is more than a lease ago.
                while client.stats()["dgc"]["leases"]["counts"]["failures"] < failures + 2:
                    assert other.ping() == "unrelated"  # unrelated calls are unaffected
                    time.sleep(0.05)
            finally:
                os.kill(server.proc.pid, signal.SIGCONT)
            assert orb_log.wait_for("failed").levelname == "WARNING"
            with orb.call_timeout(5):
                assert thing.ping() == "suspended"
            orb_log.wait_for("succeeded again", timeout=lease * 2)
            state = probe.state()
            assert object_id in state["holders"]
            renewals = state["counts"]["renew"]
            wait_until(lambda: probe.state()["counts"]["renew"] >= renewals + 3,
                       timeout=lease * 3, what="renewals after the outage")
            assert thing.ping() == "suspended"
    finally:
        os.kill(server.proc.pid, signal.SIGCONT)
        server.kill()


def test_lease_failures_are_logged_and_never_raised_into_user_calls(
    server_port: int, orb_log: Any
) -> None:
    server = start_server(server_port)
    keeper = Keeper()
    try:
        with orb.ORB(listen="tcp://127.0.0.1:0") as middle, orb.ORB(lease=LEASE) as client:
            middle.export(keeper)
            remote_keeper = client.proxy(middle.ref(keeper))
            thing = client.proxy(server.uris["factory"]).make("doomed")
            remote_keeper.keep_now(thing)  # the middle broker holds a lease too
            server.kill()
            # renewals to the dead owner fail in the background...
            wait_until(lambda: client.stats()["dgc"]["leases"]["counts"]["failures"] >= 2,
                       timeout=LEASE * 3, what="renewal failures")
            # ...while unrelated calls work, including one that hands back a
            # reference to the dead owner's object (its claim fails quietly)
            handed = remote_keeper.kept_thing()
            assert handed is thing
            assert remote_keeper.keep_now(thing) is None
            orb_log.wait_for("failed")
            del thing, handed
            gc.collect()
            orb_log.wait_for("clean of 1 object(s)")  # the clean fails: logged only
            with pytest.raises(orb.CommunicationError):
                remote_keeper.ping_kept()  # the middle's proxy: its owner is dead
    finally:
        server.kill()


def test_ten_thousand_churned_exports_return_server_memory_to_baseline() -> None:
    server = peer("server", "--lease", "5")
    try:
        with orb.ORB(lease=5) as client:
            factory = client.proxy(server.uris["factory"])
            probe = client.proxy(server.uris["probe"])

            def churn(rounds: int) -> None:
                for _ in range(rounds):
                    things = factory.make_many(100)
                    assert things[0].ping() == "0"
                    del things
                for _ in range(rounds):  # and some one at a time
                    factory.make("single").ping()

            def settled() -> dict[str, Any]:
                state = probe.state()
                done = state["objects"]["implicit"] == 0 and state["lease_records"] == 0
                return state if done else {}

            churn(20)  # warm up: caches, free lists, remembered ids of collected objects
            baseline = wait_until(settled, timeout=10, what="warm-up objects to be collected")
            churn(100)  # 10,000 objects in batches plus 100 singles
            after = wait_until(settled, timeout=20, what="churned objects to be collected")
            assert after["objects"] == baseline["objects"]
            assert after["counts"]["collected"] - baseline["counts"]["collected"] == 10_100
            growth = after["traced_bytes"] - baseline["traced_bytes"]
            assert growth < 200_000, f"server memory grew by {growth} bytes"
            assert client.stats()["dgc"]["leases"]["held"] == {}
    finally:
        server.stop()
