"""Hostile and broken peers at the TLS layer and the connection limits.

Raw sockets play the attacker; a well-behaved mutual-TLS client keeps
calling the same server throughout and must never notice.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import pytest
from orb.security import TLSConfig
from polling import wait_until

import orb

from .conftest import PKI


@orb.expose
class Echo:
    def echo(self, value: object) -> object:
        return value

    def sleep(self, seconds: float) -> str:
        time.sleep(seconds)  # the servant's work, not synchronisation
        return "done"


def _address(broker: orb.ORB) -> tuple[str, int]:
    host, port = broker.endpoints[0].split("://", 1)[1].rsplit(":", 1)
    return host, int(port)


def _client_hello(pki: PKI) -> bytes:
    """The bytes of a real TLS ClientHello, made in memory."""
    context = ssl.create_default_context(cafile=pki.ca)
    obj = context.wrap_bio(ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def _closed_by_server(sock: socket.socket, timeout: float) -> float:
    """Seconds until the server closed ``sock`` (reading and discarding what it sends)."""
    start = time.monotonic()
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - start


@pytest.fixture
def served(pki: PKI) -> Iterator[tuple[orb.ORB, orb.Proxy]]:
    """A mutual-TLS server with a short handshake timeout, and alice's proxy to it."""
    limits = orb.Limits(handshake_timeout=1.0)
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), limits=limits) as server, \
            orb.ORB(tls=pki.client_tls()) as alice:
        proxy = alice.proxy(str(server.export(Echo())), timeout=5)
        assert proxy.echo("before") == "before"
        yield server, proxy


GARBAGE = {
    "random": os.urandom(4096),
    "http": b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "orb plaintext hello": b"\x00\x00\x00\x10" + b"\x94" + b"\x00" * 15,
    "huge tls record": b"\x16\x03\x01\xff\xff" + b"\x01" * 100,
    "zero bytes": b"\x00" * 1000,
}


@pytest.mark.parametrize("name", sorted(GARBAGE))
def test_garbage_instead_of_a_handshake_harms_no_one(served: tuple[orb.ORB, orb.Proxy], name: str) -> None:
    server, proxy = served
    with socket.create_connection(_address(server), timeout=5) as sock:
        sock.sendall(GARBAGE[name])
        assert proxy.echo(name) == name  # served while the garbage is being rejected
        assert _closed_by_server(sock, 5) < 3
    assert proxy.echo("after") == "after"


@pytest.mark.parametrize("keep", [1, 5, 40, -1])
def test_a_truncated_client_hello_is_dropped_at_the_deadline(
    pki: PKI, served: tuple[orb.ORB, orb.Proxy], keep: int
) -> None:
    server, proxy = served
    hello = _client_hello(pki)
    with socket.create_connection(_address(server), timeout=5) as sock:
        sock.sendall(hello[:keep])  # then silence
        assert proxy.echo("during") == "during"
        assert _closed_by_server(sock, 5) < 3
    assert proxy.echo("after") == "after"


def test_a_truncated_hello_followed_by_eof_is_dropped_at_once(pki: PKI, served: tuple[orb.ORB, orb.Proxy]) -> None:
    server, proxy = served
    with socket.create_connection(_address(server), timeout=5) as sock:
        sock.sendall(_client_hello(pki)[:30])
        sock.shutdown(socket.SHUT_WR)
        assert _closed_by_server(sock, 5) < 0.9  # well before the 1 s deadline
    assert proxy.echo("after") == "after"


def test_a_slow_loris_handshake_is_dropped_at_the_deadline_while_others_are_served(
    pki: PKI, served: tuple[orb.ORB, orb.Proxy]
) -> None:
    server, proxy = served
    hello = _client_hello(pki)
    with socket.create_connection(_address(server), timeout=5) as sock:
        start = time.monotonic()
        closed_after = None
        for byte in hello:  # one byte every 50 ms: each read "makes progress"
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                closed_after = time.monotonic() - start
                break
            assert proxy.echo(byte) == byte
            if time.monotonic() - start > 3:
                break
            time.sleep(0.05)  # pacing the attack, not synchronising
        if closed_after is None:
            closed_after = time.monotonic() - start + _closed_by_server(sock, 5)
    assert closed_after < 2.5, f"slow handshake held for {closed_after:.1f}s; the deadline is 1s"
    assert proxy.echo("after") == "after"


def test_a_slow_orb_hello_after_a_good_tls_handshake_is_dropped_at_the_deadline(
    pki: PKI, served: tuple[orb.ORB, orb.Proxy]
) -> None:
    server, proxy = served
    context = ssl.create_default_context(cafile=pki.ca)
    context.load_cert_chain(pki.alice.cert, pki.alice.key)
    raw = socket.create_connection(_address(server), timeout=5)
    with context.wrap_socket(raw, server_hostname="localhost") as tls:
        start = time.monotonic()
        try:
            for _ in range(60):
                tls.sendall(b"\x00")  # a frame header that never completes
                time.sleep(0.05)  # pacing the attack
        except OSError:
            pass
        try:
            tls.settimeout(5)
            while tls.recv(65536):
                pass
        except (OSError, ssl.SSLError):
            pass
        held = time.monotonic() - start
    assert held < 2.5, f"slow Hello held the connection for {held:.1f}s; the deadline is 1s"
    assert proxy.echo("after") == "after"


def test_connections_per_address_are_bounded(pki: PKI) -> None:
    limits = orb.Limits(max_connections_per_address=3, handshake_timeout=10)
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), limits=limits) as server, \
            orb.ORB(tls=pki.client_tls()) as alice:
        uri = str(server.export(Echo()))
        idle = [socket.create_connection(_address(server), timeout=5) for _ in range(3)]
        try:
            wait_until(lambda: server._admission.count("127.0.0.1") == 3, "three admitted connections")
            extra = socket.create_connection(_address(server), timeout=5)
            assert _closed_by_server(extra, 5) < 1  # closed at once, before any TLS
            extra.close()
            with pytest.raises(orb.CommunicationError):
                alice.proxy(uri, timeout=5).echo(1)
        finally:
            for sock in idle:
                sock.close()
        wait_until(lambda: server._admission.count("127.0.0.1") == 0, "every connection released")
        assert alice.proxy(uri, timeout=5).echo(2) == 2


def test_total_connections_are_bounded() -> None:
    limits = orb.Limits(max_connections=2)
    with orb.ORB(listen="tcp://127.0.0.1:0", limits=limits) as server, orb.ORB() as client:
        uri = str(server.export(Echo()))
        assert client.proxy(uri, timeout=5).echo(1) == 1
        hog = socket.create_connection(_address(server), timeout=5)
        try:
            wait_until(lambda: server._admission.count() == 2, "two admitted connections")
            with orb.ORB() as other, pytest.raises(orb.CommunicationError):
                other.proxy(uri, timeout=5).echo(2)
            assert client.proxy(uri, timeout=5).echo(3) == 3  # admitted ones are unaffected
        finally:
            hog.close()


def test_an_idle_connection_is_closed_and_the_client_reconnects(pki: PKI) -> None:
    limits = orb.Limits(idle_timeout=0.5)
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), limits=limits) as server, \
            orb.ORB(tls=pki.client_tls()) as alice:
        proxy = alice.proxy(str(server.export(Echo())), timeout=5)
        assert proxy.echo(1) == 1
        wait_until(lambda: not server.stats()["connections"], "the server to drop its connection")
        wait_until(lambda: not alice.stats()["connections"], "alice to drop hers")  # it said Goodbye
        assert proxy.echo(2) == 2


def test_a_long_call_is_not_idle(pki: PKI) -> None:
    limits = orb.Limits(idle_timeout=0.3)
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), limits=limits) as server, \
            orb.ORB(tls=pki.client_tls()) as alice:
        proxy = alice.proxy(str(server.export(Echo())), timeout=10)
        assert proxy.sleep(1.2) == "done"


def test_a_client_that_stops_reading_does_not_hold_a_worker_forever(pki: PKI) -> None:
    # The client asks for a large reply and never reads it: the worker's send
    # blocks until the idle timeout, then the connection is dropped and the
    # worker is free again.
    limits = orb.Limits(idle_timeout=1.0)
    config = orb.Config(max_workers=1, limits=limits)
    with orb.ORB(listen="tcp://127.0.0.1:0", config=config) as server, orb.ORB() as client:
        uri = str(server.export(Echo()))
        object_id = uri.rsplit("/", 1)[1]
        from orb._wire import CODEC_VERSION, Call, Codec, Connection, Hello

        codec = Codec()
        conn = Connection(hello=Hello(codec_version=CODEC_VERSION, orb_id=os.urandom(16)),
                          encode=codec.encoder(), decode=codec.decoder())
        with socket.create_connection(_address(server), timeout=5) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(b"".join(conn.start()))
            while conn.peer is None:
                conn.receive_data(sock.recv(65536))
                conn.next_event()
            big = b"x" * (32 * 1024 * 1024)
            sock.sendall(b"".join(conn.send(Call(request_id=1, object_id=object_id, method="echo",
                                                 args=[big], kwargs={}))))
            # Never read the reply. Another client is served once the stuck
            # worker gives up (one worker only).
            start = time.monotonic()
            assert client.proxy(uri, timeout=10).echo("free") == "free"
            assert time.monotonic() - start < 8


def test_tls_settings_are_modern(pki: PKI) -> None:
    from orb.security import client_context, server_context

    for context in (server_context(pki.server_tls()), client_context(pki.client_tls())):
        assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
        assert context.options & ssl.OP_NO_COMPRESSION
        assert context.options & ssl.OP_NO_RENEGOTIATION
    client = client_context(pki.client_tls())
    assert client.check_hostname and client.verify_mode == ssl.CERT_REQUIRED
    assert server_context(pki.server_tls()).verify_mode == ssl.CERT_REQUIRED
    assert server_context(pki.server_tls(require_client_cert=False)).verify_mode == ssl.CERT_OPTIONAL
    assert client_context(TLSConfig(minimum_version="TLSv1.3")).minimum_version == ssl.TLSVersion.TLSv1_3
    with pytest.raises(ValueError):
        TLSConfig(minimum_version="TLSv1.0")


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")
def test_an_old_tls_client_is_refused(pki: PKI, served: tuple[orb.ORB, orb.Proxy]) -> None:
    server, proxy = served
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(pki.ca)
    try:
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    except (ValueError, ssl.SSLError):
        pytest.skip("this OpenSSL cannot even offer TLS 1.1")
    with socket.create_connection(_address(server), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, OSError)):
            context.wrap_socket(raw, server_hostname="localhost")
    assert proxy.echo("after") == "after"


def test_many_concurrent_bad_handshakes_do_not_block_accepting(pki: PKI, served: tuple[orb.ORB, orb.Proxy]) -> None:
    server, proxy = served
    socks = [socket.create_connection(_address(server), timeout=5) for _ in range(20)]
    try:
        for sock in socks:
            sock.sendall(_client_hello(pki)[:10])
        done = threading.Event()
        results: list[object] = []

        def call() -> None:
            results.append(proxy.echo("fast"))
            done.set()

        threading.Thread(target=call).start()
        assert done.wait(0.9), "a good call waited on the stalled handshakes"
        assert results == ["fast"]
    finally:
        for sock in socks:
            sock.close()


def test_collections_longer_than_the_limit_close_only_that_connection() -> None:
    limits = orb.Limits(max_collection_len=1000)
    with orb.ORB(listen="tcp://127.0.0.1:0", limits=limits) as server, \
            orb.ORB() as sender, orb.ORB() as bystander:
        uri = str(server.export(Echo()))
        other = bystander.proxy(uri, timeout=5)
        assert other.echo(1) == 1
        proxy = sender.proxy(uri, timeout=5)
        assert proxy.echo(list(range(1000))) == list(range(1000))
        assert proxy.echo({str(i): i for i in range(1000)})["999"] == 999
        with pytest.raises(orb.CommunicationError, match="max_array_len"):
            proxy.echo(list(range(1001)))
        with pytest.raises(orb.CommunicationError, match="max_map_len"):
            proxy.echo({i: i for i in range(1001)})
        assert other.echo(2) == 2
        assert proxy.echo("reconnected") == "reconnected"
