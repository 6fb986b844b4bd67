"""Fuzz targets: what a peer on the network can make orb parse before it trusts anyone.

Each target takes one input (bytes) and returns normally, or raises
``Finding`` (or any unexpected exception) when it found a bug. "Expected"
failures are the documented ones: ``orb.ProtocolError`` from the wire
core, ``ssl.SSLError`` turned into a readable message by orb.security,
``ValueError``/``TypeError`` from the reference parsers.

* ``wire``: a fresh sans-I/O Connection (awaiting the peer's Hello) fed the
  input in pieces; the first input byte chooses whether a valid Hello is
  put in front (so the fuzzer reaches the messages and the value codec)
  and how the input is cut.
* ``tls``: a server-side TLS handshake (memory BIOs, the broker's own
  server context) fed the input as the client's bytes; failures must be
  explained by ``orb.security._transport.explain`` without error.
* ``refs``: the input as text through ``Endpoint.parse`` and
  ``ObjectRef.from_uri`` (references arrive from peers and are dialled).

``seeds(target)`` gives valid inputs to start mutating from.
"""

from __future__ import annotations

import atexit
import os
import shutil
import ssl
import tempfile
from collections.abc import Callable

import orb
from orb._refs import Endpoint, ObjectRef
from orb._wire import (
    CODEC_VERSION,
    NEED_DATA,
    Call,
    Codec,
    Connection,
    ConnectionClosed,
    Hello,
    Reply,
    WireRef,
)

MAX_FRAME = 1 << 16


class Finding(Exception):
    """The target misbehaved on this input."""


def _codec() -> Codec:
    return Codec()


_CODEC = _codec()
_ENCODE = _CODEC.encoder()
_DECODE = _CODEC.decoder(lambda *fields: WireRef(*fields))
_HELLO = Hello(codec_version=CODEC_VERSION, orb_id=b"\x01" * 16, endpoints=("tcp://127.0.0.1:1",))


def _connection() -> Connection:
    conn = Connection(hello=_HELLO, encode=_ENCODE, decode=_DECODE, max_frame_size=MAX_FRAME)
    conn.start()
    return conn


def _hello_frame() -> bytes:
    other = Connection(hello=_peer_hello(), encode=_ENCODE, decode=_DECODE)
    return b"".join(other.start())


def _peer_hello() -> Hello:
    """The Hello of the other side (a client with a pending-calls limit)."""
    return Hello(codec_version=CODEC_VERSION, orb_id=b"\x02" * 16, endpoints=(),
                 limits={"max_pending": 8})


_VALID_HELLO = _hello_frame()


def wire(data: bytes) -> None:
    if not data:
        return
    control, body = data[0], data[1:]
    if control & 0x80:
        body = _VALID_HELLO + body
    step = 1 + (control & 0x3F)
    conn = _connection()
    try:
        for start in range(0, len(body), step):
            conn.receive_data(body[start : start + step])
            if _drain(conn):
                return
        conn.receive_data(b"")
        _drain(conn)
    except orb.ProtocolError:
        return


def _drain(conn: Connection) -> bool:
    """Pull every event; True once the connection closed."""
    while True:
        event = conn.next_event()
        if event is NEED_DATA:
            return False
        if isinstance(event, ConnectionClosed):
            return True
        if isinstance(event, Call):
            # A server answers; answering must not fail on whatever arrived.
            conn.send(Reply(request_id=event.request_id, value=None))


# -- TLS ---------------------------------------------------------------------------

_TLS: dict[str, object] = {}


def _tls_context() -> ssl.SSLContext:
    context = _TLS.get("server")
    if context is None:
        from orb.security import CertificateAuthority, TLSConfig, server_context

        directory = tempfile.mkdtemp(prefix="orb-fuzz-")
        atexit.register(shutil.rmtree, directory, True)
        ca = CertificateAuthority.create("fuzz CA")
        ca.save(os.path.join(directory, "ca.pem"), os.path.join(directory, "ca.key"))
        ca.issue_server(["localhost"], ["127.0.0.1"]).save(
            os.path.join(directory, "server.pem"), os.path.join(directory, "server.key"))
        ca.issue_client("fuzz").save(
            os.path.join(directory, "client.pem"), os.path.join(directory, "client.key"))
        config = TLSConfig(cert=os.path.join(directory, "server.pem"),
                           key=os.path.join(directory, "server.key"),
                           ca=os.path.join(directory, "ca.pem"), require_client_cert=True)
        context = server_context(config)
        _TLS["server"] = context
        _TLS["dir"] = directory
    return context  # type: ignore[return-value]


def tls(data: bytes) -> None:
    from orb.security._transport import explain

    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = _tls_context().wrap_bio(incoming, outgoing, server_side=True)
    incoming.write(data)
    incoming.write_eof()
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        return
    except ssl.SSLError as exc:
        message = explain(exc, "127.0.0.1:1", server_side=True)
        if not message.startswith("TLS: "):
            raise Finding(f"unexplained TLS failure: {message!r}") from None
        return
    raise Finding("a handshake completed from fuzzed bytes alone")


def client_hello() -> bytes:
    """A real ClientHello, as the first flight of an orb TLS client."""
    from orb.security import TLSConfig, client_context

    _tls_context()
    directory = str(_TLS["dir"])
    context = client_context(TLSConfig(cert=os.path.join(directory, "client.pem"),
                                       key=os.path.join(directory, "client.key"),
                                       ca=os.path.join(directory, "ca.pem")))
    outgoing = ssl.MemoryBIO()
    obj = context.wrap_bio(ssl.MemoryBIO(), outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


# -- references --------------------------------------------------------------------


def refs(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    for parse in (Endpoint.parse, ObjectRef.from_uri):
        try:
            parsed = parse(text)
        except (ValueError, TypeError):
            continue
        # Whatever parses must print back to something that parses the same.
        again = parse(str(parsed))
        if again != parsed:
            raise Finding(f"{text!r} -> {parsed!r} -> {str(parsed)!r} -> {again!r}")


# -- seeds -------------------------------------------------------------------------


def _wire_seeds() -> list[bytes]:
    client = Connection(hello=_peer_hello(), encode=_ENCODE, decode=_DECODE)
    frames = [b"".join(client.start())]
    server = Connection(hello=_HELLO, encode=_ENCODE, decode=_DECODE, max_frame_size=MAX_FRAME)
    client.receive_data(b"".join(server.start()))
    client.next_event()
    values = [1, "text", b"bytes", [1, (2, 3)], {"k": {1, 2}}, 3.5, None, True,
              ValueError("boom"), {"nested": [[[]]]}]
    for i, value in enumerate(values):
        frames.append(b"".join(client.send(Call(request_id=i + 1, object_id="abc",
                                                 method="m", args=[value], kwargs={}))))
    seeds = [b"\x84" + frames[0]]  # a Hello, cut in 4-byte pieces
    seeds += [b"\xbf" + f for f in frames[1:]]  # valid Hello in front, then a Call
    seeds.append(b"\x80" + b"".join(frames[1:]))
    return seeds


def seeds(target: str) -> list[bytes]:
    if target == "wire":
        return _wire_seeds()
    if target == "tls":
        hello = client_hello()
        return [hello, hello[:40], b"\x16\x03\x01\x00\x05hello"]
    if target == "refs":
        return [b"tcp://127.0.0.1:7000", b"tls://[::1]:0", b"unix:///tmp/x.sock",
                b"orbs://host.example:7000/abc", b"orb+unix://%2Ftmp%2Fs/id"]
    raise KeyError(target)


TARGETS: dict[str, Callable[[bytes], None]] = {"wire": wire, "tls": tls, "refs": refs}
