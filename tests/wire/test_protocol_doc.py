"""docs/PROTOCOL.md is exact: its hex examples are what the code sends and reads.

Every ```orb-frame block holds a Python expression for a message (after
``message:``, continued on indented lines), optionally the exception's
``remote_traceback:``, then the frame as hex bytes. ```orb-value blocks do
the same for a single value. Each block is decoded through a Connection or
the Codec and compared with its expression, and the expression is encoded
again and must give exactly the same bytes.

The last tests speak the documented bytes to a real broker over a socket,
as an implementation in another language would.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime
import decimal
import re
import socket
import struct
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import msgpack
import pytest

import orb
from orb._wire import (
    EXT,
    NEED_DATA,
    Call,
    Cancel,
    Codec,
    Connection,
    Error,
    Goodbye,
    Hello,
    Kind,
    Oneway,
    Ping,
    Pong,
    Reply,
    WireRef,
    qualified_name,
)
from orb._wire._codec import MAX_EXT_DEPTH

from ._support import same

DOC = Path(__file__).resolve().parents[2] / "docs" / "PROTOCOL.md"
TEXT = DOC.read_text(encoding="utf-8")
HEX_LINE = re.compile(r"^[0-9a-f]{2}( [0-9a-f]{2})*$")
OBJECT_ID = "9f86d081884c7d659a2feaa0c55ad015"


@dataclasses.dataclass
class Point:
    x: float
    y: float


NAMESPACE: dict[str, Any] = {
    **{cls.__name__: cls for cls in (Hello, Call, Oneway, Reply, Error, Cancel, Ping, Pong,
                                     Goodbye, WireRef, Point)},
    "datetime": datetime.datetime, "date": datetime.date, "time": datetime.time,
    "timedelta": datetime.timedelta, "timezone": datetime.timezone,
    "Decimal": decimal.Decimal, "UUID": uuid.UUID, "orb": orb,
}


@attrs.frozen
class Block:
    kind: str  # "frame" or "value"
    expression: str
    data: bytes
    remote_traceback: str | None
    line: int

    def expected(self) -> Any:
        value = eval(self.expression, dict(NAMESPACE))  # the doc's own examples
        if self.remote_traceback is not None:
            value.exception.remote_traceback = self.remote_traceback
        return value

    def __str__(self) -> str:
        return f"docs/PROTOCOL.md line {self.line}: {self.expression.splitlines()[0][:70]}"


def parse_blocks(text: str) -> list[Block]:
    blocks = []
    for match in re.finditer(r"^```orb-(frame|value)\n(.*?)^```$", text, re.S | re.M):
        header: dict[str, str] = {}
        key = None
        hex_lines = []
        for line in match.group(2).splitlines():
            if HEX_LINE.match(line):
                hex_lines.append(line)
            elif line[:1].isspace() and key is not None and not hex_lines:
                header[key] += "\n" + line
            else:
                key, _, rest = line.partition(": ")
                assert not hex_lines and key in ("message", "value", "remote_traceback"), line
                header[key] = rest
        tb = header.get("remote_traceback")
        blocks.append(Block(
            kind=match.group(1),
            expression=header.get("message") or header["value"],
            data=bytes.fromhex(" ".join(hex_lines)),
            remote_traceback=None if tb is None else ast.literal_eval(tb),
            line=text.count("\n", 0, match.start()) + 1,
        ))
    return blocks


BLOCKS = parse_blocks(TEXT)
FRAMES = [b for b in BLOCKS if b.kind == "frame"]
VALUES = [b for b in BLOCKS if b.kind == "value"]
HELLO_BLOCK = next(b for b in FRAMES if b.expression.startswith("Hello("))


def make_codec() -> Codec:
    codec = Codec()
    codec.register(Point, name="geo.Point")
    return codec


def _export_wire_refs(obj: Any) -> Any:
    return tuple(obj) if type(obj) is WireRef else None


def connection(hello: Hello | None = None, max_frame_size: int = 64 * 1024 * 1024) -> Connection:
    codec = make_codec()
    return Connection(
        hello=hello or Hello(codec_version=1, orb_id=bytes(16)),
        encode=codec.encoder(_export_wire_refs),
        decode=codec.decoder(),
        max_frame_size=max_frame_size,
    )


def hexdump(data: bytes) -> str:
    return "\n".join(data[i : i + 16].hex(" ") for i in range(0, len(data), 16))


# -- the examples ---------------------------------------------------------------------


def test_the_document_has_examples_of_every_core_message_and_extension() -> None:
    kinds = {
        msgpack.unpackb(b.data[4:], ext_hook=lambda c, d: None, strict_map_key=False)[0]
        for b in FRAMES
    }
    assert kinds >= set(range(Kind.GOODBYE + 1))
    tops = [msgpack.unpackb(b.data, ext_hook=msgpack.ExtType, strict_map_key=False)
            for b in VALUES]
    codes = {top.code for top in tops if isinstance(top, msgpack.ExtType)}
    assert codes >= {v for k, v in vars(EXT).items() if k.isupper()}


def test_the_tables_name_every_kind_and_extension_code() -> None:
    for kind in Kind:
        assert f"| {int(kind)} | {kind.name} | `[{int(kind)}," in TEXT, kind
    for name, code in vars(EXT).items():
        if name.isupper():
            assert f"| {code} | {name} |" in TEXT, name
    assert f"at most **{MAX_EXT_DEPTH}**" in TEXT
    assert f"{orb._wire.DEFAULT_MAX_FRAME_SIZE:,}" in TEXT
    for cls in orb._errors.BROKER_ERRORS:  # "orb's own errors are always registered: ..."
        assert f"`{qualified_name(cls)}`" in TEXT, cls


@pytest.mark.parametrize("block", FRAMES, ids=str)
def test_frame_examples_decode_to_what_the_document_says(block: Block) -> None:
    expected = block.expected()
    conn = connection()
    conn.start()
    if not isinstance(expected, Hello):
        conn.receive_data(HELLO_BLOCK.data)
        assert isinstance(conn.next_event(), Hello)
    conn.receive_data(block.data)
    event = conn.next_event()
    if isinstance(expected, Goodbye):  # the connection reports a Goodbye as its close
        assert event == orb._wire.ConnectionClosed(expected.reason)
        return
    assert same(expected, event), f"{block}: decoded {event!r}"
    assert conn.next_event() is NEED_DATA  # exactly one frame, nothing left over
    if block.remote_traceback is not None:
        assert event.exception.remote_traceback == block.remote_traceback


@pytest.mark.parametrize("block", FRAMES, ids=str)
def test_frame_examples_are_exactly_what_the_encoder_sends(block: Block) -> None:
    expected = block.expected()
    if isinstance(expected, Hello):
        sent = connection(expected, expected.limits["max_frame_size"]).start()
    else:
        conn = connection()
        conn.start()
        conn.receive_data(HELLO_BLOCK.data)
        conn.next_event()
        sent = conn.send(expected)
    data = b"".join(sent)
    assert data == block.data, f"{block}: the encoder now sends\n{hexdump(data)}"


@pytest.mark.parametrize("block", VALUES, ids=str)
def test_value_examples_round_trip_exactly(block: Block) -> None:
    codec = make_codec()
    expected = block.expected()
    assert same(expected, codec.decoder()(block.data)), block
    data = codec.encoder(_export_wire_refs)(expected)
    assert data == block.data, f"{block}: the encoder now gives\n{hexdump(data)}"


# -- the documented behaviour, over a real socket ------------------------------------------


@orb.expose
class Calculator:
    """Adds numbers."""

    def add(self, a: int, b: int = 0) -> int:
        """Return a + b."""
        return a + b


def frame_of(name: str) -> bytes:
    (block,) = [b for b in FRAMES if b.expression == name or b.expression.startswith(name)]
    return block.data


class RawClient:
    """A peer that speaks only what docs/PROTOCOL.md says, with msgpack and struct."""

    def __init__(self, broker: orb.ORB) -> None:
        host, _, port = broker.endpoints[0].partition("://")[2].rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.buffer = b""

    def frame(self) -> bytes | None:
        """The next raw frame (header included), or None at end of stream."""
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + size:
                    frame, self.buffer = self.buffer[: 4 + size], self.buffer[4 + size :]
                    return frame
            chunk = self.sock.recv(65536)
            if not chunk:
                assert not self.buffer, "stream ended inside a frame"
                return None
            self.buffer += chunk

    def message(self) -> Any:
        frame = self.frame()
        return None if frame is None else msgpack.unpackb(
            frame[4:], ext_hook=lambda code, data: (code, data)
        )


@pytest.fixture
def calc_broker() -> Iterator[orb.ORB]:
    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        broker.export(Calculator(), object_id=OBJECT_ID)
        yield broker


def test_a_peer_speaking_the_documented_bytes_is_served(calc_broker: orb.ORB) -> None:
    client = RawClient(calc_broker)
    client.sock.sendall(HELLO_BLOCK.data)
    kind, protocol, codec, orb_id, endpoints, limits = client.message()
    assert (kind, protocol, codec, orb_id) == (0, 1, 1, calc_broker.orb_id)
    assert endpoints == list(calc_broker.endpoints)
    assert limits["max_frame_size"] == 64 * 1024 * 1024 and limits["max_pending"] >= 1

    client.sock.sendall(frame_of(f'Call(request_id=1, object_id="{OBJECT_ID}", method="add"'))
    assert client.frame() == frame_of("Reply(request_id=1, value=5)")

    client.sock.sendall(frame_of("Ping(token=42)"))
    assert client.frame() == frame_of("Pong(token=42)")

    client.sock.sendall(frame_of(f'Call(request_id=7, object_id="{OBJECT_ID}", method="__orb_d'))
    kind, request_id, interface = client.message()
    assert (kind, request_id) == (3, 7)
    assert list(interface) == ["type_name", "doc", "methods", "properties"]
    assert interface["methods"][0]["signature"] == "(a: int, b: int = 0) -> int"

    missing = msgpack.packb([1, 9, "nope", "add", [], {}])
    client.sock.sendall(struct.pack(">I", len(missing)) + missing)
    kind, request_id, (code, payload) = client.message()
    assert (kind, request_id, code) == (4, 9, EXT.EXCEPTION)
    assert msgpack.unpackb(payload)[0] == "orb.ObjectNotFound"

    client.sock.sendall(struct.pack(">I", 0))  # a zero-length frame: a protocol error
    kind, reason = client.message()
    assert kind == 8 and reason.startswith("protocol error") and "empty frame" in reason
    assert client.frame() is None  # then the broker closes the connection


def test_a_version_mismatch_is_answered_with_goodbye(calc_broker: orb.ORB) -> None:
    client = RawClient(calc_broker)
    hello = msgpack.packb([0, 2, 1, bytes(16), [], {}], use_bin_type=True)
    client.sock.sendall(struct.pack(">I", len(hello)) + hello)
    assert client.message()[:2] == [0, 1]  # the broker's own Hello went out first
    kind, reason = client.message()
    assert kind == 8 and "protocol version 2" in reason and "speaks 1" in reason
    assert client.frame() is None


def test_anything_but_hello_first_is_refused(calc_broker: orb.ORB) -> None:
    client = RawClient(calc_broker)
    client.sock.sendall(frame_of("Ping(token=42)"))
    assert client.message()[0] == 0
    kind, reason = client.message()
    assert kind == 8 and "expected Hello first" in reason
    assert client.frame() is None
