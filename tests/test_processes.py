"""Cross-process behaviour: real server processes started with subprocess.

Three-party reference passing, callbacks into a client-only ORB, and a
server killed in the middle of a call (then restarted on the same port).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import orb
from peers.launch import PeerProcess


@pytest.fixture(scope="module")
def peer_a() -> Iterator[PeerProcess]:
    process = PeerProcess("server.py")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def peer_c(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PeerProcess]:
    sock = tmp_path_factory.mktemp("peer-c") / "c.sock"
    process = PeerProcess(
        "server.py", "--listen", "tcp://127.0.0.1:0", "--listen", f"unix://{sock}"
    )
    yield process
    process.stop()


@pytest.fixture
def broker_b() -> Iterator[orb.ORB]:
    """This test process, as a client-only ORB."""
    with orb.ORB() as broker:
        yield broker


def test_three_party_reference_goes_direct(
    peer_a: PeerProcess, peer_c: PeerProcess, broker_b: orb.ORB
) -> None:
    relay = broker_b.proxy(peer_a.uris["relay"])
    # A makes its own proxy for C's object (A calls C once, so C sees A there).
    assert relay.hold(peer_c.uris["calc"]) == peer_c.info["orb_id"]
    held = relay.held()  # A hands its proxy to B (this process)
    assert isinstance(held, orb.Proxy)
    assert orb.ref(held).orb_id == peer_c.orb_id
    assert orb.ref(held).object_id == "calc"

    # B calls C directly: C sees B's ORB as the caller, not A's.
    seen = held.whoami()
    assert seen == {"caller": broker_b.orb_id.hex(), "me": peer_c.info["orb_id"]}
    assert held.add(20, 22) == 42
    peers = {c["orb_id"] for c in broker_b.stats()["connections"]}
    assert peers == {peer_a.info["orb_id"], peer_c.info["orb_id"]}


def test_reference_carries_every_endpoint_of_its_orb(
    peer_a: PeerProcess, peer_c: PeerProcess, broker_b: orb.ORB
) -> None:
    relay = broker_b.proxy(peer_a.uris["relay"])
    relay.hold(peer_c.uris["calc"])
    held = relay.held()
    assert orb.ref(held).endpoints == tuple(peer_c.info["endpoints"])
    assert orb.ref(held).endpoints[1].startswith("unix://")


@orb.expose
class Recorder:
    """A callback object living in the client."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, bytes]] = []

    def called(self, value: int) -> int:
        self.calls.append((value, orb.current().peer.orb_id))
        return value * 2


def test_callback_into_client_only_orb(peer_a: PeerProcess, broker_b: orb.ORB) -> None:
    assert broker_b.endpoints == ()  # nothing listens in this process
    calc = broker_b.proxy(peer_a.uris["calc"])
    recorder = Recorder()
    assert calc.call_back(recorder, 21) == 42
    assert recorder.calls == [(21, peer_a.orb_id)]
    # The call back came over the connection this process opened: still just one.
    assert [c["direction"] for c in broker_b.stats()["connections"]] == ["outgoing"]


def test_killed_server_fails_call_in_flight_then_reconnects(broker_b: orb.ORB) -> None:
    server = PeerProcess("server.py")
    try:
        calc = broker_b.proxy(server.uris["calc"], timeout=30)
        assert calc.add(1, 2) == 3
        outcome: list[BaseException | str] = []
        done = threading.Event()

        def call_stuck() -> None:
            try:
                outcome.append(calc.stuck())
            except BaseException as exc:
                outcome.append(exc)
            done.set()

        threading.Thread(target=call_stuck, daemon=True).start()
        assert server.readline() == "STUCK"  # the call is running in the server
        server.kill()
        assert done.wait(5), "a call to a killed server hung"
        assert isinstance(outcome[0], orb.CommunicationError)
        assert "may or may not have run" in str(outcome[0])
        with pytest.raises(orb.CommunicationError):
            calc.add(1, 2)  # nothing listens there now

        # A new server process on the same port: the same proxy reconnects.
        endpoint = server.info["endpoints"][0]
        server = PeerProcess("server.py", "--listen", endpoint)
        assert server.uris["calc"] == orb.ref(calc).__str__()
        assert calc.add(2, 3) == 5
        assert calc.whoami()["me"] == server.info["orb_id"]
    finally:
        server.kill()


@orb.expose
class Hub:
    """Lives in this process; a client process subscribes and then blocks in hold()."""

    def __init__(self) -> None:
        self.listeners: list[Any] = []
        self.holding = threading.Event()
        self.release = threading.Event()

    def subscribe(self, listener: Any) -> None:
        self.listeners.append(listener)

    def hold(self) -> str:
        self.holding.set()
        self.release.wait(10)
        return "released"


def test_killed_client_leaves_the_server_clean(orb_log: Any) -> None:
    hub = Hub()
    with orb.ORB(listen="tcp://127.0.0.1:0") as server:
        uri = str(server.export(hub))
        client = PeerProcess("client.py", uri)
        try:
            assert client.readline() == "SUBSCRIBED"
            (listener,) = hub.listeners
            assert listener.hear("hello") == "heard hello"  # a callback into that process
            assert hub.holding.wait(5)
            assert [c["orb_id"] for c in server.stats()["connections"]] == [client.info["orb_id"]]
        finally:
            client.kill()
        deadline = time.monotonic() + 5
        while server.stats()["connections"] and time.monotonic() < deadline:
            time.sleep(0.02)  # waiting for this process's reader to see the other one die
        assert server.stats()["connections"] == []
        # Its callback object is unreachable now: an error at once, not a hang.
        started = time.monotonic()
        with pytest.raises(orb.CommunicationError):
            listener.hear("anyone?")
        assert time.monotonic() - started < 2
        # The call it was making finishes on the server; the reply is dropped quietly.
        hub.release.set()
        # And the server goes on serving others.
        with orb.ORB() as other:
            assert other.proxy(uri).hold() == "released"
    assert [r.getMessage() for r in orb_log.records if r.levelno >= logging.ERROR] == []
