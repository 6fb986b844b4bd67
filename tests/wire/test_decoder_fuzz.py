"""Hostile bytes: the decoder and the connection only ever raise orb.ProtocolError.

Nothing a peer sends may raise another exception, hang, crash the process
or make the receiver allocate for a length it merely declared.
"""

from __future__ import annotations

import struct
import tracemalloc
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import orb
from orb._wire import EXT, HEADER, NEED_DATA, Call, ConnectionClosed, Reply
from orb._wire._codec import MAX_EXT_DEPTH
from orb._wire._messages import GENERIC_READERS, READERS, from_wire

from ._support import ORB_B, connection, drain, make_codec, values

DECODE = make_codec().decoder()
ENCODE = make_codec().encoder()
SMALL_LIMIT = 512
FUZZ = settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])


def decode_or_protocol_error(data: bytes) -> None:
    try:
        DECODE(data)
    except orb.ProtocolError:
        pass


# -- the value decoder -------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=256))
def test_arbitrary_bytes_only_raise_protocol_error(data: bytes) -> None:
    decode_or_protocol_error(data)


class RawExt:
    """An extension value with any code, -128 to 127 (msgpack.ExtType allows 0 to 127)."""

    def __init__(self, code: int, data: bytes) -> None:
        self.code, self.data = code, data

    def packed(self) -> bytes:
        return b"\xc7" + bytes([len(self.data)]) + struct.pack(">b", self.code) + self.data


def _ext_payloads(inner: st.SearchStrategy) -> st.SearchStrategy:
    # Extension values whose payload is random bytes or a packed document,
    # under any orb code, unknown codes and msgpack's timestamp (-1).
    code = st.one_of(st.integers(1, 13), st.integers(-128, 127))
    payload = st.one_of(st.binary(max_size=24), inner.map(_pack)).filter(lambda d: len(d) < 256)
    return st.builds(RawExt, code, payload)


def _pack(document: Any) -> bytes:
    """msgpack bytes of ``document``, with RawExt values packed as they are."""
    if isinstance(document, RawExt):
        return document.packed()
    if isinstance(document, list):
        return _array_header(len(document)) + b"".join(_pack(d) for d in document)
    if isinstance(document, dict):
        return _map_header(len(document)) + b"".join(
            _pack(k) + _pack(v) for k, v in document.items()
        )
    return msgpack.packb(document, use_bin_type=True)


def _array_header(size: int) -> bytes:
    return bytes([0x90 | size]) if size < 16 else b"\xdc" + struct.pack(">H", size)


def _map_header(size: int) -> bytes:
    return bytes([0x80 | size]) if size < 16 else b"\xde" + struct.pack(">H", size)


_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
    st.text(max_size=8), st.binary(max_size=8),
)


def _documents(max_leaves: int) -> st.SearchStrategy:
    return st.recursive(
        _leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=5),
            st.dictionaries(st.one_of(st.text(max_size=4), st.integers(0, 9)), inner,
                            max_size=4),
            _ext_payloads(inner),
        ),
        max_leaves=max_leaves,
    )


documents = _documents(16)
small_documents = _documents(4)


@FUZZ
@given(documents)
def test_structured_garbage_only_raises_protocol_error(document: Any) -> None:
    decode_or_protocol_error(_pack(document))


@FUZZ
@given(st.sampled_from(sorted(v for k, v in vars(EXT).items() if k.isupper())),
       st.lists(small_documents, max_size=5))
def test_every_extension_with_wrong_fields_only_raises_protocol_error(
    code: int, fields: list
) -> None:
    decode_or_protocol_error(_pack(RawExt(code, _pack(fields)[:255])))


def test_deep_extension_nesting_is_refused_not_a_crash() -> None:
    # Each extension level recurses through msgpack's C unpacker; a few
    # hundred levels used to overflow the C stack of the decoding thread.
    inner = _pack(None)
    for _ in range(5000):
        inner = _pack(msgpack.ExtType(EXT.TUPLE, b"\x91" + inner))
    with pytest.raises(orb.ProtocolError, match=f"nest deeper than {MAX_EXT_DEPTH}"):
        DECODE(inner)


def test_deep_array_nesting_is_refused() -> None:
    with pytest.raises(orb.ProtocolError):
        DECODE(b"\x91" * 100_000 + b"\xc0")


@pytest.mark.parametrize(
    "header",
    [
        b"\xdb\xff\xff\xff\xff",  # str32
        b"\xc6\xff\xff\xff\xff",  # bin32
        b"\xdd\xff\xff\xff\xff",  # array32
        b"\xdf\xff\xff\xff\xff",  # map32
        b"\xc9\xff\xff\xff\xff\x02",  # ext32
        b"\xdd\x00\x00\xff\xff" * 200,  # nested arrays each declaring 65535 items
    ],
    ids=["str32", "bin32", "array32", "map32", "ext32", "nested-arrays"],
)
def test_declared_lengths_are_not_trusted(header: bytes) -> None:
    data = header + b"\xc0" * 64
    tracemalloc.start()
    try:
        with pytest.raises(orb.ProtocolError):
            DECODE(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000 + 64 * len(data)


# -- message readers --------------------------------------------------------------

arrays = st.one_of(
    st.tuples(st.integers(-1, 10), st.lists(small_documents, max_size=6)).map(
        lambda t: [t[0], *t[1]]
    ),
    small_documents,
)


@FUZZ
@given(arrays)
def test_fast_readers_agree_with_the_fields_table(array: Any) -> None:
    try:
        message = from_wire(array)
    except orb.ProtocolError:
        message = None
    kind = array[0] if type(array) is list and array else None
    if type(kind) is int and kind in GENERIC_READERS:
        try:
            expected = GENERIC_READERS[kind](array)
        except orb.ProtocolError:
            expected = None
        assert message == expected
    else:
        assert message is None


@pytest.mark.parametrize(
    "array",
    [
        [1, 1, "o", "m", [], {}],
        [2, "o", "m", [1], {"k": 1}],
        [3, 0, None],
        [4, 7, ValueError("x")],
    ],
)
def test_fast_readers_accept_valid_arrays(array: list) -> None:
    assert from_wire(array) == GENERIC_READERS[array[0]](array)
    assert READERS[array[0]] is not GENERIC_READERS[array[0]]


@pytest.mark.parametrize(
    "array",
    [
        [True, 1, "o", "m", [], {}],  # a bool is not a kind
        [1.0, 1, "o", "m", [], {}],
        [1, -1, "o", "m", [], {}],
        [1, 1, b"o", "m", [], {}],
        [1, 1, "o", "m", (), {}],
        [1, 1, "o", "m", [], {1: 2}],
        [1, 1, "o", "m", []],
        [3, True, 5],
        [4, 1, "not an exception"],
        [0, 1, 1, bytes(15), [], {}],
        [9],
        [],
        {},
    ],
)
def test_invalid_arrays_are_protocol_errors(array: Any) -> None:
    with pytest.raises(orb.ProtocolError):
        from_wire(array)


# -- the connection ------------------------------------------------------------------


def feed_until_error(conn: orb._wire.Connection, chunks: list[bytes], eof: bool) -> None:
    """Feed ``chunks`` and pull events; only ProtocolError may escape."""
    try:
        for chunk in chunks:
            conn.receive_data(chunk)
            drain(conn)
        if eof:
            conn.receive_data(b"")
            assert isinstance(drain(conn)[-1], ConnectionClosed)
    except orb.ProtocolError as exc:
        # Once failed, the connection keeps failing the same way.
        with pytest.raises(orb.ProtocolError) as again:
            conn.next_event()
        assert again.value is exc


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in zip(points, points[1:]) if b > a]


@FUZZ
@given(st.binary(max_size=300), st.lists(st.integers(0, 300), max_size=6), st.booleans(),
       st.booleans())
def test_arbitrary_bytes_into_a_connection(data: bytes, cuts: list[int], after_hello: bool,
                                           eof: bool) -> None:
    conn = connection(max_frame_size=SMALL_LIMIT)
    conn.start()
    if after_hello:
        peer = connection(ORB_B)
        conn.receive_data(b"".join(peer.start()))
        drain(conn)
    feed_until_error(conn, _chunked(data, cuts), eof)


messages = st.one_of(
    st.builds(Call, request_id=st.integers(0, 2**64 - 1), object_id=st.text(max_size=8),
              method=st.text(max_size=8), args=st.lists(values, max_size=2),
              kwargs=st.dictionaries(st.text(max_size=4), values, max_size=2)),
    st.builds(Reply, request_id=st.integers(0, 2**64 - 1), value=values),
    st.builds(orb._wire.Error, request_id=st.integers(0, 2**32),
              exception=st.builds(ValueError, st.text(max_size=10))),
    st.builds(orb._wire.Ping, token=st.integers(0, 2**64 - 1)),
    st.builds(orb._wire.Goodbye, reason=st.text(max_size=10)),
)

mutations = st.lists(
    st.tuples(st.sampled_from(["flip", "insert", "delete", "truncate"]),
              st.integers(0, 10_000), st.integers(0, 255)),
    min_size=1, max_size=4,
)


def _mutate(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    buffer = bytearray(data)
    for action, position, byte in edits:
        at = position % (len(buffer) + 1)
        if action == "flip" and at < len(buffer):
            buffer[at] ^= byte or 1
        elif action == "insert":
            buffer[at:at] = bytes([byte])
        elif action == "delete" and at < len(buffer):
            del buffer[at]
        elif action == "truncate":
            del buffer[at:]
    return bytes(buffer)


@settings(deadline=None, max_examples=120, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(messages, min_size=1, max_size=3), mutations, st.booleans(),
       st.lists(st.integers(0, 2000), max_size=4))
def test_mutated_valid_frames(batch: list, edits: list, mutate_hello: bool,
                              cuts: list[int]) -> None:
    sender = connection(ORB_B)
    hello = b"".join(sender.start())
    receiver = connection()
    receiver.start()
    sender.receive_data(b"".join(connection().start()))
    drain(sender)
    frames = b"".join(b"".join(sender.send(m)) for m in batch)
    if mutate_hello:
        stream = _mutate(hello, edits) + frames
    else:
        stream = hello + _mutate(frames, edits)
    feed_until_error(receiver, _chunked(stream, cuts), eof=True)


# -- frame lengths ------------------------------------------------------------------------


def test_a_huge_declared_frame_is_refused_from_its_header_alone() -> None:
    conn = connection(max_frame_size=SMALL_LIMIT)
    conn.start()
    tracemalloc.start()
    try:
        conn.receive_data(HEADER.pack(2**32 - 1))  # no body follows, and none is awaited
        with pytest.raises(orb.ProtocolError, match="exceeds the limit of 512 bytes"):
            conn.next_event()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000


def test_a_frame_at_the_limit_is_awaited_without_allocating_it() -> None:
    conn = connection(max_frame_size=64 * 1024 * 1024)
    conn.start()
    tracemalloc.start()
    try:
        conn.receive_data(HEADER.pack(64 * 1024 * 1024) + b"\x96")
        assert conn.next_event() is NEED_DATA
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 100_000


def test_one_byte_at_a_time_is_linear_and_exact() -> None:
    a_bytes, events = bytearray(), []
    sender = connection(ORB_B)
    a_bytes += b"".join(sender.start())
    sender.receive_data(b"".join(connection().start()))
    drain(sender)
    for i in range(200):
        a_bytes += b"".join(sender.send(Reply(request_id=i, value=[i, "x" * i])))
    receiver = connection()
    receiver.start()
    for i in range(len(a_bytes)):
        receiver.receive_data(a_bytes[i : i + 1])
        events += drain(receiver)
    assert [e.value for e in events[1:]] == [[i, "x" * i] for i in range(200)]


def test_frame_header_is_four_bytes_big_endian() -> None:
    assert HEADER.size == 4 and HEADER.pack(0x01020304) == b"\x01\x02\x03\x04"
    assert struct.unpack(">I", HEADER.pack(5)) == (5,)
