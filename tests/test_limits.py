"""Limits and bad input: a misbehaving peer loses its own connection and nothing else.

Raw sockets play the misbehaving peer; a well-behaved client keeps calling
the same server throughout.
"""

from __future__ import annotations

import secrets
import socket
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from protocol_peer import ProtocolPeer

import orb
from orb._wire import CODEC_VERSION, Codec, Connection, Error, Hello


@orb.expose
class Service:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.running = 0
        self.lock = threading.Lock()
        self.all_running = threading.Condition(self.lock)

    def echo(self, value: Any) -> Any:
        return value

    def hold(self) -> str:
        with self.lock:
            self.running += 1
            self.all_running.notify_all()
        self.release.wait(10)
        return "released"

    def wait_running(self, count: int, timeout: float = 5.0) -> bool:
        with self.lock:
            return self.all_running.wait_for(lambda: self.running >= count, timeout)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _hello_bytes() -> bytes:
    codec = Codec()
    connection = Connection(
        hello=Hello(codec_version=CODEC_VERSION, orb_id=secrets.token_bytes(16)),
        encode=codec.encoder(),
        decode=codec.decoder(),
    )
    return b"".join(connection.start())


class RawPeer:
    """A raw socket speaking (or not speaking) the orb protocol."""

    def __init__(self, endpoint: str, timeout: float = 5.0) -> None:
        host, _, port = endpoint.partition("://")[2].rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def closed_by_server(self) -> bool:
        """Read until the server closes the connection (True), or time out (False)."""
        try:
            while self.sock.recv(65536):
                pass
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def service() -> Service:
    return Service()


@pytest.fixture
def small_server(service: Service) -> Iterator[orb.ORB]:
    """A server with small limits: 1 KiB frames, 4 calls in flight, 0.3 s handshakes."""
    limits = orb.Limits(max_frame_size=1024, max_pending=4, handshake_timeout=0.3)
    with orb.ORB(listen="tcp://127.0.0.1:0", limits=limits) as broker:
        yield broker


@pytest.fixture
def good(small_server: orb.ORB, service: Service, client: orb.ORB) -> orb.Proxy:
    """A well-behaved client's proxy; it works before and after each attack."""
    proxy = client.proxy(small_server.export(service), timeout=5)
    assert proxy.echo("before") == "before"
    return proxy


@pytest.fixture
def raw(small_server: orb.ORB) -> Iterator[RawPeer]:
    peer = RawPeer(small_server.endpoints[0])
    yield peer
    peer.close()


def test_garbage_before_hello_closes_only_that_connection(
    good: orb.Proxy, raw: RawPeer, orb_log: Any
) -> None:
    raw.send(b"GET / HTTP/1.1\r\nHost: example\r\n\r\n")
    assert raw.closed_by_server()
    record = orb_log.wait_for("protocol error")
    assert record.levelname == "WARNING" and record.name.startswith("orb.")
    assert "handshake" in record.getMessage()
    assert good.echo("after") == "after"


def test_garbage_frame_after_hello_closes_only_that_connection(
    good: orb.Proxy, raw: RawPeer, orb_log: Any
) -> None:
    raw.send(_hello_bytes())
    raw.send(_frame(b"\xc1\xc1\xc1 not msgpack"))
    assert raw.closed_by_server()
    record = orb_log.wait_for("protocol error")
    assert record.levelname == "WARNING" and record.name.startswith("orb.")
    assert good.echo("after") == "after"


@pytest.mark.parametrize(
    "payload",
    [
        msgpack.packb([99, 1, 2]),  # unknown message kind
        msgpack.packb([1, "not an id", "obj", "m", [], {}]),  # ill-typed Call
        msgpack.packb({"kind": 1}),  # not an array
        msgpack.packb([0, 1, CODEC_VERSION, b"x" * 16, [], {}]),  # a second Hello
        msgpack.packb([1, 1, "obj", "m", msgpack.ExtType(77, b""), {}]),  # unknown ext
    ],
    ids=["unknown-kind", "ill-typed-call", "not-an-array", "second-hello", "unknown-ext"],
)
def test_malformed_messages_close_only_that_connection(
    good: orb.Proxy, raw: RawPeer, orb_log: Any, payload: bytes
) -> None:
    raw.send(_hello_bytes() + _frame(payload))
    assert raw.closed_by_server()
    orb_log.wait_for("protocol error")
    assert good.echo("after") == "after"


def test_empty_frame_closes_the_connection(good: orb.Proxy, raw: RawPeer) -> None:
    raw.send(_hello_bytes() + b"\x00\x00\x00\x00")
    assert raw.closed_by_server()
    assert good.echo("after") == "after"


def test_oversized_frame_is_refused_from_its_header(
    good: orb.Proxy, raw: RawPeer, orb_log: Any
) -> None:
    raw.send(_hello_bytes())
    # Only the header of a 1 GiB frame: the server must not wait for (or
    # allocate) the rest before refusing it.
    raw.send(struct.pack(">I", 2**30))
    assert raw.closed_by_server()
    record = orb_log.wait_for("exceeds the limit")
    assert "1024" in record.getMessage()
    assert good.echo("after") == "after"


def test_sending_more_than_the_peer_accepts_fails_at_the_sender(
    good: orb.Proxy, service: Service
) -> None:
    with pytest.raises(orb.ProtocolError, match="frame limit"):
        good.echo(b"x" * 2000)
    assert good.echo(b"x" * 500) == b"x" * 500  # the connection is unharmed


def test_reply_larger_than_the_caller_accepts_becomes_an_error(server: orb.ORB) -> None:
    ref = server.export(Service())
    with orb.ORB(limits=orb.Limits(max_frame_size=1024)) as tiny:
        proxy = tiny.proxy(ref, timeout=5)
        # The server accepts the request, but the reply is too big for this
        # client: the server sends an error instead, and the connection survives.
        with pytest.raises(orb.ProtocolError, match="frame limit of 1024") as info:
            proxy.echo(["y" * 100] * 11)
        assert "_send_reply" not in str(info.value) and info.value.remote_traceback
        assert proxy.echo("small") == "small"


def test_stream_ending_inside_a_frame(good: orb.Proxy, small_server: orb.ORB) -> None:
    peer = RawPeer(small_server.endpoints[0])
    peer.send(_hello_bytes() + struct.pack(">I", 100) + b"partial")
    peer.sock.shutdown(socket.SHUT_WR)
    assert peer.closed_by_server()
    peer.close()
    assert good.echo("after") == "after"


def test_many_bad_peers_at_once_do_not_disturb_a_good_one(
    good: orb.Proxy, small_server: orb.ORB
) -> None:
    bad_inputs = [b"\xff" * 64, struct.pack(">I", 2**31), _hello_bytes() + _frame(b"\xc1"), b""]
    peers = [RawPeer(small_server.endpoints[0]) for _ in range(12)]
    try:
        for n, peer in enumerate(peers):
            peer.send(bad_inputs[n % len(bad_inputs)])
        for n in range(50):
            assert good.echo(n) == n
        for peer in peers:
            assert peer.closed_by_server()  # the silent ones by the handshake timeout
    finally:
        for peer in peers:
            peer.close()
    assert good.echo("after") == "after"


# -- handshake timeout ------------------------------------------------------


def test_handshake_timeout_drops_a_silent_client(
    good: orb.Proxy, raw: RawPeer, orb_log: Any
) -> None:
    started = time.monotonic()
    assert raw.closed_by_server()
    assert 0.2 < time.monotonic() - started < 3
    orb_log.wait_for("did not complete the handshake")
    assert good.echo("after") == "after"


def test_handshake_timeout_drops_a_client_that_stops_mid_hello(
    good: orb.Proxy, raw: RawPeer
) -> None:
    raw.send(_hello_bytes()[:7])
    started = time.monotonic()
    assert raw.closed_by_server()
    assert time.monotonic() - started < 3


def test_handshake_timeout_does_not_apply_after_hello(
    small_server: orb.ORB, service: Service, client: orb.ORB
) -> None:
    proxy = client.proxy(small_server.export(service), timeout=5)
    assert proxy.echo(1) == 1
    service.release.set()
    # Idle for longer than the handshake timeout, then call again.
    assert not threading.Event().wait(0.5)
    assert proxy.echo(2) == 2


def test_wrong_protocol_version_is_refused(good: orb.Proxy, raw: RawPeer, orb_log: Any) -> None:
    raw.send(_frame(msgpack.packb([0, 999, CODEC_VERSION, b"x" * 16, [], {}])))
    assert raw.closed_by_server()
    record = orb_log.wait_for("protocol error")
    assert "version 999" in record.getMessage() and record.levelname == "WARNING"
    assert good.echo("after") == "after"


# -- pending calls ----------------------------------------------------------


def test_incoming_calls_in_flight_are_bounded(
    small_server: orb.ORB, service: Service
) -> None:
    # A peer that ignores the limit the server announced (4) sends a fifth call.
    object_id = small_server.export(service).object_id
    peer = ProtocolPeer(small_server.endpoints[0])
    try:
        peer.send_calls(object_id, [(request_id, "hold", []) for request_id in range(1, 5)])
        assert service.wait_running(4)
        peer.send_calls(object_id, [(5, "echo", ["one too many"])])
        refused = peer.next_event()
        assert isinstance(refused, Error) and refused.request_id == 5
        assert isinstance(refused.exception, orb.CommunicationError)
        assert "too many calls in flight" in str(refused.exception)
        service.release.set()
        replies = dict(peer.reply() for _ in range(4))
        assert replies == {1: "released", 2: "released", 3: "released", 4: "released"}
        peer.send_calls(object_id, [(6, "echo", ["room again"])])
        assert peer.reply() == (6, "room again")
    finally:
        service.release.set()
        peer.close()


def test_an_orb_caller_keeps_to_the_bound_its_peer_announced(
    small_server: orb.ORB, service: Service
) -> None:
    ref = small_server.export(service)
    # This client allows itself many calls in flight; the server runs 4 per
    # connection: the client's fifth and sixth calls wait for a slot here
    # instead of being refused there.
    with orb.ORB(limits=orb.Limits(max_pending=64)) as greedy:
        proxy = greedy.proxy(ref, timeout=10)
        results: list[Any] = []
        threads = [threading.Thread(target=lambda: results.append(proxy.hold())) for _ in range(6)]
        for thread in threads:
            thread.start()
        try:
            assert service.wait_running(4)
        finally:
            service.release.set()
        for thread in threads:
            thread.join(5)
        assert results == ["released"] * 6
        assert proxy.echo("room again") == "room again"


def test_callers_within_the_bound_are_never_refused(
    small_server: orb.ORB, service: Service
) -> None:
    # 4 threads, each waiting for its reply before the next call: never more than
    # 4 calls in flight, so the server (limit 4) must accept every one of them.
    ref = small_server.export(service)
    with orb.ORB(limits=orb.Limits(max_pending=64)) as client:
        proxy = client.proxy(ref, timeout=10)
        errors: list[BaseException] = []

        def calls(n: int) -> None:
            try:
                for i in range(600):
                    assert proxy.echo((n, i)) == (n, i)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=calls, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []


def test_oneway_refused_at_the_bound_is_logged(
    small_server: orb.ORB, service: Service, orb_log: Any
) -> None:
    @orb.expose
    class Notes(Service):
        @orb.oneway
        def note(self, text: str) -> None:
            self.echo(text)

    notes = Notes()
    ref = small_server.export(notes)
    with orb.ORB(limits=orb.Limits(max_pending=64)) as greedy:
        proxy = greedy.proxy(ref, timeout=10)
        threads = [threading.Thread(target=proxy.hold) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            assert notes.wait_running(4)
            assert proxy.note("no room") is None  # the caller cannot know...
            record = orb_log.wait_for("dropped one-way call note()")  # ...so the server says so
            assert record.levelname == "WARNING"
        finally:
            notes.release.set()
        for thread in threads:
            thread.join(5)


def test_other_connections_have_their_own_bound(
    small_server: orb.ORB, service: Service, client: orb.ORB
) -> None:
    ref = small_server.export(service)
    with orb.ORB(limits=orb.Limits(max_pending=64)) as greedy:
        proxy = greedy.proxy(ref, timeout=10)
        threads = [threading.Thread(target=proxy.hold) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            assert service.wait_running(4)
            assert client.proxy(ref, timeout=5).echo("mine") == "mine"
        finally:
            service.release.set()
        for thread in threads:
            thread.join(5)


def test_outgoing_calls_in_flight_are_bounded(server: orb.ORB) -> None:
    service = Service()
    ref = server.export(service)
    with orb.ORB(limits=orb.Limits(max_pending=2)) as careful:
        proxy = careful.proxy(ref, timeout=10)
        threads = [threading.Thread(target=proxy.hold) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            assert service.wait_running(2)
            # A third caller waits for a free slot (and here gives up).
            with orb.call_timeout(0.2):
                with pytest.raises(orb.TimeoutError, match="call slot"):
                    proxy.echo("waits")
            # Once a slot frees up, a waiting caller goes ahead.
            waiter_result: list[Any] = []
            waiter = threading.Thread(target=lambda: waiter_result.append(proxy.echo("queued")))
            waiter.start()
            service.release.set()
            waiter.join(5)
            assert waiter_result == ["queued"]
        finally:
            service.release.set()
        for thread in threads:
            thread.join(5)
        assert service.running == 2


def test_limits_are_validated() -> None:
    with pytest.raises(ValueError):
        orb.Limits(max_frame_size=0)
    with pytest.raises(ValueError):
        orb.Limits(max_pending=-1)
    with pytest.raises(ValueError):
        orb.Limits(handshake_timeout=0)


def test_default_limits() -> None:
    limits = orb.Limits()
    assert limits.max_frame_size == 64 * 1024 * 1024
    assert limits.max_pending == 256
    assert limits.handshake_timeout == 10


# -- a misbehaving server -----------------------------------------------------


class RawServer:
    """A listening socket that answers each connection with a scripted behaviour."""

    def __init__(self, script: Any) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.uri = f"orb://127.0.0.1:{self.sock.getsockname()[1]}/obj"
        self._script = script
        self._done = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        self._conns.append(conn)
        conn.settimeout(5)
        try:
            self._script(conn)
        except OSError:
            pass
        self._done.wait(10)

    def close(self) -> None:
        self._done.set()
        self.sock.close()
        for conn in self._conns:
            conn.close()
        self._thread.join(5)


@pytest.fixture
def raw_server() -> Iterator[Any]:
    servers: list[RawServer] = []

    def start(script: Any) -> RawServer:
        servers.append(RawServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_server_that_never_says_hello_times_out(raw_server: Any) -> None:
    silent = raw_server(lambda conn: None)
    with orb.ORB(limits=orb.Limits(handshake_timeout=0.3)) as client:
        started = time.monotonic()
        with pytest.raises(orb.TimeoutError, match="handshake"):
            client.proxy(silent.uri, timeout=10).anything()
        assert time.monotonic() - started < 3


def _read_frame(conn: socket.socket) -> bytes:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = conn.recv(count - len(data))
            if not chunk:
                raise ConnectionError("peer closed")
            data += chunk
        return data

    (size,) = struct.unpack(">I", exactly(4))
    return exactly(size)


def test_garbage_reply_fails_the_call_instead_of_hanging(raw_server: Any, orb_log: Any) -> None:
    def hello_then_garbage(conn: socket.socket) -> None:
        conn.sendall(_hello_bytes())
        _read_frame(conn)  # the client's Hello
        _read_frame(conn)  # its first call
        conn.sendall(_frame(b"\xc1 garbage"))

    liar = raw_server(hello_then_garbage)
    with orb.ORB() as client:
        started = time.monotonic()
        with pytest.raises(orb.CommunicationError, match="protocol error"):
            client.proxy(liar.uri, timeout=10).anything()
        assert time.monotonic() - started < 3
    orb_log.wait_for("protocol error")


def test_server_hanging_up_mid_call_fails_the_call(raw_server: Any) -> None:
    def hello_then_hang_up(conn: socket.socket) -> None:
        conn.sendall(_hello_bytes())
        _read_frame(conn)  # the client's Hello
        _read_frame(conn)  # its first call: now it is in flight
        conn.shutdown(socket.SHUT_RDWR)

    rude = raw_server(hello_then_hang_up)
    with orb.ORB() as client:
        with pytest.raises(orb.CommunicationError, match="may or may not have run"):
            client.proxy(rude.uri, timeout=10).anything()


def test_concurrent_first_calls_share_one_connection(server: orb.ORB) -> None:
    uri = str(server.export(Service()))
    with orb.ORB() as client:
        start = threading.Barrier(8)
        results: list[Any] = []

        def first_call(n: int) -> None:
            proxy = client.proxy(uri, timeout=5)
            start.wait()
            results.append(proxy.echo(n))

        threads = [threading.Thread(target=first_call, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert sorted(results) == list(range(8))
        assert len(client.stats()["connections"]) == 1
