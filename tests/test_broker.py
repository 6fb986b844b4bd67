"""The broker: endpoints, references and URIs, life cycle, instance policies."""

from __future__ import annotations

import re
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import orb


@orb.expose
class Counter:
    """Counts calls."""

    def __init__(self) -> None:
        self.count = 0

    def bump(self) -> int:
        self.count += 1
        return self.count

    def identity(self) -> int:
        return id(self)


def _port(endpoint: str) -> int:
    return int(endpoint.rpartition(":")[2])


def _orb_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("orb-")}


@pytest.fixture
def sock_dir() -> Iterator[Path]:
    # A short directory: Unix socket paths are limited to about 100 bytes.
    with tempfile.TemporaryDirectory(prefix="orb-") as path:
        yield Path(path)


# -- endpoints --------------------------------------------------------------


def test_tcp_port_zero_picks_a_free_port(client: orb.ORB) -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        (endpoint,) = broker.endpoints
        assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", endpoint)
        assert _port(endpoint) != 0
        ref = broker.export(Counter())
        assert str(ref) == f"orb://127.0.0.1:{_port(endpoint)}/{ref.object_id}"
        assert client.proxy(str(ref)).bump() == 1


def test_ipv6_loopback_uri(client: orb.ORB) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 support")
    try:
        broker = orb.ORB(listen="tcp://[::1]:0")
    except orb.CommunicationError as exc:
        pytest.skip(f"::1 not available: {exc}")
    with broker:
        ref = broker.export(Counter())
        assert str(ref).startswith("orb://[::1]:")
        assert client.proxy(str(ref)).bump() == 1


def test_unix_endpoint_and_uri(sock_dir: Path, client: orb.ORB) -> None:
    path = sock_dir / "server.sock"
    with orb.ORB(listen=f"unix://{path}") as broker:
        assert broker.endpoints == (f"unix://{path}",)
        assert path.is_socket()
        ref = broker.export(Counter())
        encoded = str(path).replace("/", "%2F")
        assert str(ref) == f"orb+unix://{encoded}/{ref.object_id}"
        assert client.proxy(str(ref)).bump() == 1
        assert orb.ObjectRef.from_uri(str(ref)).endpoints == (f"unix://{path}",)
    assert not path.exists()  # closing removes the socket file


def test_several_endpoints_at_once(sock_dir: Path, client: orb.ORB) -> None:
    path = sock_dir / "multi.sock"
    with orb.ORB(listen=["tcp://127.0.0.1:0", f"unix://{path}", "tcp://127.0.0.1:0"]) as broker:
        assert len(broker.endpoints) == 3
        assert broker.endpoints[1] == f"unix://{path}"
        assert _port(broker.endpoints[0]) != _port(broker.endpoints[2])
        counter = Counter()
        ref = broker.export(counter)
        assert ref.endpoints == broker.endpoints
        # Every endpoint reaches the same object.
        for n, endpoint in enumerate(broker.endpoints, start=1):
            via = orb.ObjectRef(object_id=ref.object_id, endpoints=(endpoint,))
            assert client.proxy(via).bump() == n
        assert counter.count == 3


def test_unix_endpoint_in_use_is_refused(sock_dir: Path) -> None:
    path = sock_dir / "busy.sock"
    with orb.ORB(listen=f"unix://{path}"):
        with pytest.raises(orb.CommunicationError, match="another process listens"):
            orb.ORB(listen=f"unix://{path}")


def test_tcp_port_in_use_is_refused(server: orb.ORB) -> None:
    with pytest.raises(orb.CommunicationError, match="cannot listen"):
        orb.ORB(listen=server.endpoints[0])


def test_bad_endpoints_say_what_is_accepted() -> None:
    with pytest.raises(ValueError, match="tcp://HOST:PORT"):
        orb.ORB(listen="127.0.0.1:7000")
    with pytest.raises(ValueError, match="absolute path"):
        orb.ORB(listen="unix://relative.sock")


def test_plaintext_on_a_non_loopback_address_is_refused() -> None:
    with pytest.raises(ValueError, match="insecure=True"):
        orb.ORB(listen="tcp://0.0.0.0:0")


# -- life cycle -----------------------------------------------------------


def test_context_manager_closes() -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        assert not broker.closed
        port = _port(broker.endpoints[0])
    assert broker.closed
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    with pytest.raises(orb.CommunicationError, match="closed"):
        broker.export(Counter())


def test_serve_forever_until_closed_from_another_thread(client: orb.ORB) -> None:
    broker = orb.ORB(listen="tcp://127.0.0.1:0")
    uri = str(broker.export(Counter()))
    returned = threading.Event()

    def serve() -> None:
        broker.serve_forever()
        returned.set()

    thread = threading.Thread(target=serve)
    thread.start()
    assert client.proxy(uri).bump() == 1
    assert not returned.is_set()
    broker.close()
    thread.join(5)
    assert returned.is_set()
    assert broker.closed


@orb.expose
class Stopper:
    def stop(self) -> str:
        orb.current().broker.close()
        return "stopping"


def test_serve_forever_ends_when_a_servant_closes_the_broker(client: orb.ORB) -> None:
    broker = orb.ORB(listen="tcp://127.0.0.1:0")
    uri = str(broker.export(Stopper()))
    thread = threading.Thread(target=broker.serve_forever)
    thread.start()
    try:
        client.proxy(uri, timeout=5).stop()
    except orb.CommunicationError:
        pass  # the reply may or may not make it out before the connection closes
    thread.join(5)
    assert not thread.is_alive()
    assert broker.closed


def test_clean_shutdown_leaves_no_threads_or_sockets(sock_dir: Path) -> None:
    before = _orb_threads()
    path = sock_dir / "clean.sock"
    server = orb.ORB(listen=["tcp://127.0.0.1:0", f"unix://{path}"])
    client = orb.ORB()
    calls = [client.proxy(server.export(Counter())) for _ in range(3)]
    for proxy in calls:
        proxy.bump()
    unix_proxy = client.proxy(orb.ObjectRef(object_id=orb.ref(calls[0]).object_id,
                                            endpoints=(server.endpoints[1],)))
    unix_proxy.bump()
    assert len(client.stats()["connections"]) == 2
    # A raw client that never says Hello: its connection is still in the handshake.
    silent = socket.create_connection(("127.0.0.1", _port(server.endpoints[0])), timeout=5)
    silent.recv(4)  # the server's Hello began: it has accepted the connection
    assert _orb_threads() - before  # readers, acceptors and workers are running

    server.close()
    assert _drained(silent)  # dropped at once, not left until its handshake times out
    silent.close()
    # The client sees its connections end (no reply will ever come).
    with pytest.raises(orb.CommunicationError):
        calls[0].bump()
    client.close()
    assert server.stats()["connections"] == [] and client.stats()["connections"] == []
    assert not path.exists()
    assert not _orb_threads() - before, f"left running: {_orb_threads() - before}"


def _drained(sock: socket.socket) -> bool:
    """Read until end of stream; True when the peer closed the connection."""
    while True:
        data = sock.recv(65536)
        if not data:
            return True


def test_close_is_idempotent() -> None:
    broker = orb.ORB(listen="tcp://127.0.0.1:0")
    broker.close()
    broker.close()
    assert broker.closed


def test_client_only_orb_calls_out_and_exports_nothing_reachable(server: orb.ORB) -> None:
    with orb.ORB() as client:
        assert client.endpoints == ()
        assert "client-only" in repr(client)
        assert client.proxy(server.export(Counter())).bump() == 1
        # Its objects have no address of their own; a URI cannot name them.
        ref = client.export(Counter())
        assert ref.endpoints == ()
        with pytest.raises(ValueError, match="client-only"):
            orb.proxy(str(ref))


def test_closed_orb_refuses_calls(server: orb.ORB) -> None:
    client = orb.ORB()
    proxy = client.proxy(server.export(Counter()))
    client.close()
    with pytest.raises(orb.CommunicationError, match="closed"):
        proxy.bump()


# -- references -----------------------------------------------------------


def test_object_ids_are_128_random_bits(server: orb.ORB) -> None:
    ids = [server.export(Counter()).object_id for _ in range(200)]
    assert len(set(ids)) == len(ids)
    for object_id in ids:
        assert re.fullmatch(r"[0-9a-f]{32}", object_id)  # 128 bits
    # Not a counter in disguise: ids share no common prefix and bits vary.
    assert len({i[:4] for i in ids}) > 150
    ones = sum(bin(int(i, 16)).count("1") for i in ids) / len(ids)
    assert 48 < ones < 80  # about half of 128 bits set on average
    assert len(server.orb_id) == 16


def test_export_returns_object_ref(server: orb.ORB) -> None:
    counter = Counter()
    ref = server.export(counter)
    assert isinstance(ref, orb.ObjectRef)
    assert ref.orb_id == server.orb_id
    assert ref.endpoints == server.endpoints
    assert ref.interface == f"{__name__}.Counter"
    assert server.export(counter) == ref  # exporting twice keeps the id
    assert server.ref(counter) == ref


def test_module_level_proxy_from_uri_and_ref(server: orb.ORB, client: orb.ORB) -> None:
    ref = server.export(Counter())
    assert orb.proxy(str(ref)).bump() == 1
    assert orb.proxy(ref).bump() == 2
    assert orb.proxy(str(ref), broker=client).bump() == 3


def test_fixed_object_id(server: orb.ORB, client: orb.ORB) -> None:
    ref = server.export(Counter(), object_id="well-known")
    assert str(ref).endswith("/well-known")
    assert client.proxy(str(ref)).bump() == 1
    with pytest.raises(ValueError, match="already in use"):
        server.export(Counter(), object_id="well-known")
    with pytest.raises(ValueError):
        server.export(Counter(), object_id="a/b")


def test_unexport_then_call_raises_object_not_found(server: orb.ORB, client: orb.ORB) -> None:
    counter = Counter()
    proxy = client.proxy(server.export(counter))
    assert proxy.bump() == 1
    server.unexport(counter)
    with pytest.raises(orb.ObjectNotFound):
        proxy.bump()


def test_export_of_unexposed_object_is_refused(server: orb.ORB) -> None:
    class Plain:
        def hello(self) -> str:
            return "hi"

    with pytest.raises(TypeError, match="@orb.expose"):
        server.export(Plain())


# -- instance policies ----------------------------------------------------


@orb.expose(instance="per_connection")
class Session:
    """One per client connection."""

    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.items: list[str] = []

    def add(self, item: str) -> list[str]:
        self.items.append(item)
        return self.items


@orb.expose(instance="per_call")
class Fresh:
    made = 0

    def __init__(self) -> None:
        type(self).made += 1
        self.calls = 0

    def bump(self) -> int:
        self.calls += 1
        return self.calls


def test_class_export_single_instance(server: orb.ORB) -> None:
    ref = server.export(Counter)  # a class with the default policy: one shared instance
    with orb.ORB() as one, orb.ORB() as two:
        a, b = one.proxy(ref), two.proxy(ref)
        assert [a.bump(), b.bump(), a.bump()] == [1, 2, 3]
        assert a.identity() == b.identity()


def test_class_export_per_connection(server: orb.ORB) -> None:
    ref = server.export(Session)
    with orb.ORB() as one, orb.ORB() as two:
        a, a_again, b = one.proxy(ref), one.proxy(ref), two.proxy(ref)
        assert a.add("x") == ["x"]
        assert a_again.add("y") == ["x", "y"]  # same connection, same instance
        assert b.add("z") == ["z"]  # another connection, another instance


def test_class_export_per_call(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Fresh))
    made = Fresh.made
    assert [proxy.bump() for _ in range(3)] == [1, 1, 1]
    assert Fresh.made == made + 3


def test_instance_policy_given_at_export_overrides_decorator(
    server: orb.ORB, client: orb.ORB
) -> None:
    proxy = client.proxy(server.export(Counter, instance="per_call"))
    assert [proxy.bump(), proxy.bump()] == [1, 1]
    proxy = client.proxy(server.export(Fresh, instance=orb.Instance.SINGLE))
    assert [proxy.bump(), proxy.bump()] == [1, 2]


def test_per_connection_instance_is_dropped_with_its_connection(server: orb.ORB) -> None:
    ref = server.export(Session)
    with orb.ORB() as first:
        assert first.proxy(ref).add("a") == ["a"]
    with orb.ORB() as second:
        assert second.proxy(ref).add("b") == ["b"]


def test_bad_instance_policy_is_refused(server: orb.ORB) -> None:
    with pytest.raises(ValueError):
        server.export(Counter, instance="per_thread")


def test_stats_is_a_plain_dict(server: orb.ORB, client: orb.ORB) -> None:
    client.proxy(server.export(Counter())).bump()
    stats = server.stats()
    assert stats["orb_id"] == server.orb_id.hex()
    assert stats["endpoints"] == list(server.endpoints)
    assert stats["objects"]["pinned"] >= 1
    (connection,) = stats["connections"]
    assert connection["orb_id"] == client.orb_id.hex()
    assert connection["direction"] == "incoming"


@orb.expose
class Stuck:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = threading.Semaphore(0)

    def hold(self) -> str:
        self.running.release()
        self.release.wait(30)
        return "released"


@pytest.mark.slow
def test_close_with_stuck_servants_is_bounded(client: orb.ORB) -> None:
    # close() gives running servants one grace period in all (5 s), not one each.
    stuck = Stuck()
    server = orb.ORB(listen="tcp://127.0.0.1:0")
    proxy = client.proxy(server.export(stuck))
    outcomes: list[BaseException] = []

    def call() -> None:
        try:
            proxy.hold()
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=call) for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in threads:
            assert stuck.running.acquire(timeout=5)
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 8  # was 5 s per stuck servant
        for thread in threads:
            thread.join(5)
        assert len(outcomes) == 3
        assert all(isinstance(exc, orb.CommunicationError) for exc in outcomes)
    finally:
        stuck.release.set()


def test_closing_the_client_fails_its_calls_in_flight(server: orb.ORB) -> None:
    stuck = Stuck()
    client = orb.ORB()
    proxy = client.proxy(server.export(stuck))
    outcome: list[BaseException] = []
    thread = threading.Thread(target=lambda: outcome.append(_raises(proxy.hold)))
    thread.start()
    try:
        assert stuck.running.acquire(timeout=5)
        client.close()
        thread.join(5)
        assert not thread.is_alive()
        assert isinstance(outcome[0], orb.CommunicationError)
    finally:
        stuck.release.set()


def _raises(func: Any) -> BaseException | None:
    try:
        func()
    except BaseException as exc:
        return exc
    return None
