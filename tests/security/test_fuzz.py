"""Property-based fuzzing of the TLS handshake, the orb handshake over TLS, and the limits.

The wire package's own tests (tests/wire) fuzz the value decoder and the
sans-I/O connection; these go through the security layer: real TLS over
socket pairs and a live mutual-TLS broker. fuzz/ holds the long-running
(atheris) versions.
"""

from __future__ import annotations

import os
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from orb.security import TLSError, client_context, server_context
from orb.security._transport import TLSTransport, wrap

import orb
from orb._admission import Admission
from orb._refs import Endpoint, ObjectRef
from orb._wire import CODEC_VERSION, PROTOCOL_VERSION, Hello
from orb._wire._messages import to_wire

from .conftest import PKI

FUZZ = settings(deadline=None, max_examples=60, suppress_health_check=list(HealthCheck))


def _client_hello(pki: PKI) -> bytes:
    obj = client_context(pki.client_tls()).wrap_bio(
        ssl.MemoryBIO(), outgoing := ssl.MemoryBIO(), server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """The seed with some bytes replaced, maybe cut short, maybe with junk appended."""
    edit = st.tuples(st.integers(0, len(seed) - 1), st.integers(0, 255))

    def apply(edits: list[tuple[int, int]], cut: int, tail: bytes) -> bytes:
        data = bytearray(seed)
        for position, value in edits:
            data[position] = value
        return bytes(data[:cut]) + tail

    return st.builds(apply, st.lists(edit, max_size=8), st.integers(0, len(seed)),
                     st.binary(max_size=64))


def _server_handshake(pki: PKI, data: bytes) -> BaseException | None:
    """Feed ``data`` (then EOF) to orb's server-side TLS handshake over a socket pair."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(data)
        theirs.shutdown(socket.SHUT_WR)
        transport = wrap(ours, "fuzz-peer", server_context(pki.server_tls()), server_side=True)
        start = time.monotonic()
        try:
            transport.handshake(time.monotonic() + 2.0)
        except orb.OrbError as exc:
            assert time.monotonic() - start < 1.5, "EOF must end the handshake at once"
            return exc
    return None


def test_mutated_client_hellos_fail_with_a_readable_tls_error(pki: PKI) -> None:
    hello = _client_hello(pki)

    @FUZZ
    @given(_mutations(hello))
    def check(data: bytes) -> None:
        error = _server_handshake(pki, data)
        assert isinstance(error, orb.CommunicationError)
        assert str(error).startswith(("TLS: ", "TLS handshake with fuzz-peer"))

    check()


def test_arbitrary_bytes_as_a_client_hello_fail_cleanly(pki: PKI) -> None:
    @FUZZ
    @given(st.binary(max_size=2048))
    def check(data: bytes) -> None:
        assert isinstance(_server_handshake(pki, data), orb.CommunicationError)

    check()


def _established(pki: PKI) -> tuple[TLSTransport, ssl.SSLSocket]:
    """A server-side TLSTransport and the client SSLSocket at the other end, handshake done."""
    ours, theirs = socket.socketpair()
    client = client_context(pki.client_tls()).wrap_socket(
        theirs, server_hostname="localhost", do_handshake_on_connect=False)
    failures: list[BaseException] = []

    def client_side() -> None:
        try:
            client.do_handshake()
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    thread = threading.Thread(target=client_side)
    thread.start()
    transport = wrap(ours, "fuzz-peer", server_context(pki.server_tls()), server_side=True)
    transport.handshake(time.monotonic() + 5)
    thread.join(5)
    assert not failures, failures
    return transport, client


def test_garbage_records_after_the_handshake_only_raise_tls_errors(pki: PKI) -> None:
    @FUZZ
    @given(st.binary(min_size=1, max_size=4096), st.booleans())
    def check(garbage: bytes, record_header: bool) -> None:
        transport, client = _established(pki)
        try:
            client.sendall(b"real data first")
            if record_header:  # an application-data record header in front of the junk
                garbage = b"\x17\x03\x03" + struct.pack(">H", len(garbage)) + garbage
            os.write(client.fileno(), garbage)  # under TLS, straight onto the socket
            client.shutdown(socket.SHUT_WR)
            buffer = memoryview(bytearray(65536))
            received = b""
            transport.settimeout(2)
            try:
                while count := transport.recv_into(buffer):
                    received += bytes(buffer[:count])
            except TLSError as exc:
                assert str(exc).startswith("TLS: ")
            assert received in (b"", b"real data first")
        finally:
            client.close()
            transport.close()

    check()


def test_the_tls_transport_carries_interleaved_sends_intact(pki: PKI) -> None:
    transport, client = _established(pki)
    try:
        pieces = [os.urandom(n) for n in (1, 100, 70_000, 300_000)]
        senders = [threading.Thread(target=transport.send, args=([struct.pack(">I", len(p)), p],))
                   for p in pieces]
        for thread in senders:
            thread.start()
        got: list[bytes] = []
        client.settimeout(10)
        stream = b""
        while len(got) < len(pieces):
            stream += client.recv(1 << 20)
            while len(stream) >= 4 and len(stream) >= 4 + struct.unpack(">I", stream[:4])[0]:
                size = struct.unpack(">I", stream[:4])[0]
                got.append(stream[4 : 4 + size])
                stream = stream[4 + size :]
        for thread in senders:
            thread.join(5)
        assert sorted(got, key=len) == pieces  # each message whole, none interleaved
    finally:
        client.close()
        transport.close()


# -- the orb handshake over TLS, against a live broker -----------------------------


@pytest.fixture
def live(pki: PKI) -> Iterator[tuple[orb.ORB, orb.Proxy]]:
    @orb.expose
    class Echo:
        def echo(self, value: Any) -> Any:
            return value

    limits = orb.Limits(handshake_timeout=1.0)
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), limits=limits) as server, \
            orb.ORB(tls=pki.client_tls()) as client:
        yield server, client.proxy(str(server.export(Echo())), timeout=5)


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=20)
    | st.binary(max_size=20) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=10,
)


def test_hostile_hellos_over_tls_only_cost_their_own_connection(pki: PKI, live: tuple[orb.ORB, orb.Proxy]) -> None:
    server, proxy = live
    host, port = server.endpoints[0].split("://")[1].rsplit(":", 1)
    context = client_context(pki.client_tls())
    valid = to_wire(Hello(codec_version=CODEC_VERSION, orb_id=os.urandom(16)))
    assert valid[1] == PROTOCOL_VERSION

    @settings(deadline=None, max_examples=30, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(valid) - 1), _ANY, st.booleans())
    def check(field: int, value: Any, drop_rest: bool) -> None:
        array = list(valid)
        array[field] = value
        if drop_rest:
            array = array[: field + 1]
        payload = msgpack.packb(array, use_bin_type=True)
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(struct.pack(">I", len(payload)) + payload)
                tls.settimeout(0.3)
                try:
                    while tls.recv(65536):
                        pass  # the server's Hello, maybe a Goodbye; then it closes
                except (TimeoutError, OSError):
                    pass  # or it accepted the Hello and waits for calls: fine too
        assert proxy.echo(field) == field

    check()


# -- parsers and counters ----------------------------------------------------------


@settings(max_examples=400)
@given(st.text(max_size=60))
def test_endpoints_that_parse_print_back_to_themselves(text: str) -> None:
    # References arrive from peers; fuzzing found "tls://Y::1]:0", which
    # parsed but printed as something that did not.
    for parse in (Endpoint.parse, ObjectRef.from_uri):
        try:
            parsed = parse(text)
        except (ValueError, TypeError):
            continue
        assert parse(str(parsed)) == parsed


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(["10.0.0.1", "10.0.0.2", None])),
                max_size=60))
def test_admission_counts_stay_exact_and_bounded(steps: list[tuple[bool, str | None]]) -> None:
    admission = Admission(total=5, per_address=2)
    held: list[str | None] = []
    for admit, host in steps:
        if admit:
            if admission.admit(host) is None:
                held.append(host)
        elif host in held:
            held.remove(host)
            admission.release(host)
        assert admission.count() == len(held) <= 5
        for address in ("10.0.0.1", "10.0.0.2"):
            assert admission.count(address) == held.count(address) <= 2
