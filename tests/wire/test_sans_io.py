"""The wire core does no I/O, and its state machine refuses what the protocol forbids."""

from __future__ import annotations

import ast
from pathlib import Path

import msgpack
import pytest

import orb
from orb._wire import (
    CODEC_VERSION,
    HEADER,
    PROTOCOL_VERSION,
    Call,
    ConnectionClosed,
    Goodbye,
    Hello,
    Ping,
    Reply,
    State,
)

from ._support import ORB_A, ORB_B, connection, drain, make_codec, open_pair

WIRE = Path(orb._wire.__file__).parent
FORBIDDEN = {"socket", "ssl", "threading", "_thread", "asyncio", "time", "selectors", "select",
             "multiprocessing", "concurrent", "subprocess"}


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            found.add("__import__")
    return found


def test_the_wire_package_imports_no_io_thread_or_clock_module() -> None:
    files = sorted(WIRE.glob("*.py"))
    assert {f.name for f in files} >= {"__init__.py", "_codec.py", "_connection.py",
                                       "_messages.py"}
    for path in files:
        bad = _imported_modules(path) & (FORBIDDEN | {"__import__"})
        assert not bad, f"{path.name} imports {sorted(bad)}"


def _frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def _hello_array(**changes: object) -> list:
    fields = {"protocol_version": PROTOCOL_VERSION, "codec_version": CODEC_VERSION,
              "orb_id": ORB_B, "endpoints": [], "limits": {}}
    fields.update(changes)
    return [0, *fields.values()]


def _failing(conn: orb._wire.Connection, data: bytes, match: str) -> orb.ProtocolError:
    conn.receive_data(data)
    with pytest.raises(orb.ProtocolError, match=match) as info:
        drain(conn)
    assert conn.state is State.ERROR
    assert not isinstance(info.value, orb.LocalProtocolError)  # the peer's fault
    return info.value


# -- the handshake ------------------------------------------------------------------


@pytest.mark.parametrize(
    "first",
    [[1, 1, "o", "m", [], {}], [6, 1], [8, "bye"]],
    ids=["call", "ping", "goodbye"],
)
def test_hello_must_come_first(first: list) -> None:
    conn = connection()
    conn.start()
    _failing(conn, _frame(msgpack.packb(first)), "expected Hello first")


def test_a_second_hello_is_refused() -> None:
    a, b = open_pair()
    _failing(b, _frame(msgpack.packb(_hello_array())), "second Hello")


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"protocol_version": 2}, "protocol version 2"),
        ({"codec_version": 0}, "codec version 0"),
        ({"limits": {"max_frame_size": 0}}, "invalid max_frame_size"),
        ({"limits": {"max_frame_size": 2**32}}, "invalid max_frame_size"),
        ({"limits": {"max_pending": 0}}, "invalid max_pending"),
        ({"orb_id": b"short"}, "invalid orb_id"),
        ({"endpoints": ["tcp://x:1", 5]}, "invalid endpoints"),
        ({"limits": {"max_pending": "many"}}, "invalid limits"),
    ],
)
def test_an_unacceptable_hello_is_a_protocol_error(changes: dict, match: str) -> None:
    conn = connection()
    conn.start()
    _failing(conn, _frame(msgpack.packb(_hello_array(**changes), use_bin_type=True)), match)
    # The failing side may still say why it hangs up.
    header, payload = conn.send(Goodbye(reason="version mismatch"))
    assert msgpack.unpackb(payload) == [8, "version mismatch"]


def test_unknown_limits_are_ignored() -> None:
    conn = connection()
    conn.start()
    conn.receive_data(_frame(msgpack.packb(_hello_array(limits={"max_future_thing": -5}),
                                           use_bin_type=True)))
    (hello,) = drain(conn)
    assert hello.limits == {"max_future_thing": -5} and conn.state is State.OPEN


# -- sending at the wrong time -------------------------------------------------------


def test_sending_before_start_is_a_local_error() -> None:
    conn = connection()
    with pytest.raises(orb.LocalProtocolError, match="start"):
        conn.send(Ping(token=1))
    with pytest.raises(orb.LocalProtocolError, match="start"):
        conn.send(Goodbye())


def test_only_a_goodbye_may_be_sent_before_the_peers_hello() -> None:
    conn = connection()
    conn.start()
    with pytest.raises(orb.LocalProtocolError, match="before the peer's Hello"):
        conn.send(Call(request_id=1, object_id="o", method="m"))
    conn.send(Goodbye(reason="not now"))


def test_hello_is_sent_once_by_start() -> None:
    a, _ = open_pair()
    with pytest.raises(orb.LocalProtocolError, match="already sent"):
        a.start()
    with pytest.raises(orb.LocalProtocolError, match="once"):
        a.send(a.local)


def test_only_messages_can_be_sent() -> None:
    a, _ = open_pair()
    with pytest.raises(orb.LocalProtocolError, match="not an orb protocol message"):
        a.send("hello")  # type: ignore[arg-type]


def test_a_frame_larger_than_the_peers_limit_is_a_local_error() -> None:
    a, b = open_pair(max_frame_size=64)
    with pytest.raises(orb.LocalProtocolError, match="frame limit of 64 bytes"):
        a.send(Reply(request_id=1, value="x" * 64))
    assert a.state is State.OPEN  # nothing was sent; the connection is still usable
    b.receive_data(b"".join(a.send(Ping(token=1))))
    assert drain(b) == [Ping(token=1)]


def test_values_that_cannot_travel_fail_at_the_sender() -> None:
    a, _ = open_pair()
    with pytest.raises(orb.EncodeError, match="object"):
        a.send(Reply(request_id=1, value=object()))
    assert a.state is State.OPEN


def test_the_frame_limit_must_fit_the_header() -> None:
    codec = make_codec()
    for bad in (0, -1, 2**32):
        with pytest.raises(ValueError, match="max_frame_size"):
            orb._wire.Connection(hello=Hello(codec_version=CODEC_VERSION, orb_id=ORB_A),
                                 encode=codec.encoder(), decode=codec.decoder(),
                                 max_frame_size=bad)


# -- receiving bad input ------------------------------------------------------------------


def test_data_after_end_of_stream_is_a_local_error() -> None:
    a, b = open_pair()
    b.receive_data(b"")
    with pytest.raises(orb.LocalProtocolError, match="after end of stream"):
        b.receive_data(b"\x00")


@pytest.mark.parametrize("cut", [1, 3, 4, 6], ids=lambda c: f"{c}-bytes")
def test_a_truncated_frame_at_end_of_stream(cut: int) -> None:
    a, b = open_pair()
    frame = b"".join(a.send(Ping(token=5)))
    b.receive_data(frame[:cut])
    assert drain(b) == []
    b.receive_data(b"")
    with pytest.raises(orb.ProtocolError, match="stream ended inside a frame"):
        b.next_event()


def test_an_oversize_frame_is_refused_by_its_header() -> None:
    a, b = open_pair(max_frame_size=100)
    _failing(b, HEADER.pack(101), "frame of 101 bytes exceeds the limit of 100 bytes")


def test_an_empty_frame_is_invalid() -> None:
    a, b = open_pair()
    _failing(b, HEADER.pack(0), "empty frame")


@pytest.mark.parametrize(
    "payload, match",
    [
        (msgpack.packb([3, 1, 2]) + b"\xc0", "undecodable"),  # trailing bytes in a frame
        (msgpack.packb({"kind": 3}), "non-empty msgpack array"),
        (msgpack.packb([42]), "unknown message kind 42"),
        (msgpack.packb([3, 1]), "REPLY needs 2 fields, got 1"),
        (b"\xc1", "undecodable"),  # the one never-used msgpack byte
    ],
)
def test_malformed_frames_are_protocol_errors(payload: bytes, match: str) -> None:
    a, b = open_pair()
    error = _failing(b, _frame(payload), match)
    with pytest.raises(orb.ProtocolError) as again:
        b.next_event()
    assert again.value is error
    b.send(Goodbye(reason=str(error)))  # best effort: the failing side says why


def test_frames_before_the_error_are_still_delivered() -> None:
    a, b = open_pair()
    b.receive_data(b"".join(a.send(Ping(token=1))) + HEADER.pack(0))
    assert b.next_event() == Ping(token=1)
    with pytest.raises(orb.ProtocolError):
        b.next_event()


def test_end_of_stream_before_any_hello_closes() -> None:
    conn = connection()
    conn.start()
    conn.receive_data(b"")
    assert conn.next_event() == ConnectionClosed()
    assert conn.peer is None
