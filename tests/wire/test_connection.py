"""Two sans-I/O connections talking: every message kind, framing and closing."""

from __future__ import annotations

import pytest

import orb
from orb._wire import (
    CODEC_VERSION,
    DEFAULT_MAX_FRAME_SIZE,
    HEADER,
    NEED_DATA,
    PROTOCOL_VERSION,
    Call,
    Cancel,
    ConnectionClosed,
    Error,
    Goodbye,
    Hello,
    Oneway,
    Ping,
    Pong,
    Reply,
    State,
)

from ._support import ORB_A, ORB_B, Box, connection, drain, open_pair


def transfer(sender: orb._wire.Connection, receiver: orb._wire.Connection, message: object) -> list:
    receiver.receive_data(b"".join(sender.send(message)))
    return drain(receiver)


def test_the_handshake_delivers_the_peers_hello() -> None:
    a = connection(ORB_A, endpoints=("tcp://127.0.0.1:7000", "unix:///tmp/a.sock"),
                   limits={"max_pending": 8}, max_frame_size=4096)
    b = connection(ORB_B)
    assert a.state is State.AWAIT_HELLO
    b.receive_data(b"".join(a.start()))
    (hello,) = drain(b)
    assert hello == Hello(
        protocol_version=PROTOCOL_VERSION,
        codec_version=CODEC_VERSION,
        orb_id=ORB_A,
        endpoints=("tcp://127.0.0.1:7000", "unix:///tmp/a.sock"),
        limits={"max_pending": 8, "max_frame_size": 4096},
    )
    assert b.peer == hello and b.state is State.OPEN
    assert b.peer_max_frame_size == 4096
    assert a.peer_max_frame_size == DEFAULT_MAX_FRAME_SIZE  # a has not heard from b yet


@pytest.mark.parametrize(
    "message",
    [
        Call(request_id=1, object_id="calc", method="add", args=[2, 3], kwargs={"z": None}),
        Oneway(object_id="calc", method="reset", args=[], kwargs={}),
        Reply(request_id=1, value={"total": [5, 6.5, "x", b"y", None, True]}),
        Cancel(request_id=2**64 - 1),
        Ping(token=0),
        Pong(token=2**64 - 1),
    ],
    ids=lambda m: type(m).__name__,
)
def test_each_message_kind_arrives_equal(message: object) -> None:
    a, b = open_pair()
    assert transfer(a, b, message) == [message]
    assert transfer(b, a, message) == [message]  # connections are symmetric


def test_an_error_arrives_with_its_exception() -> None:
    a, b = open_pair()
    (error,) = transfer(a, b, Error(request_id=9, exception=KeyError("k")))
    assert error.request_id == 9
    assert type(error.exception) is KeyError and error.exception.args == ("k",)


def test_both_sides_call_over_one_connection_with_their_own_request_ids() -> None:
    a, b = open_pair()
    (call_from_a,) = transfer(a, b, Call(request_id=1, object_id="x", method="m"))
    (call_from_b,) = transfer(b, a, Call(request_id=1, object_id="y", method="n"))
    # Request ids are per direction: both used 1, the replies still pair up.
    assert transfer(b, a, Reply(request_id=call_from_a.request_id, value="for a")) == [
        Reply(request_id=1, value="for a")
    ]
    assert transfer(a, b, Reply(request_id=call_from_b.request_id, value="for b")) == [
        Reply(request_id=1, value="for b")
    ]


def test_send_returns_the_header_and_the_payload() -> None:
    a, _ = open_pair()
    header, payload = a.send(Ping(token=7))
    assert header == HEADER.pack(len(payload)) and payload == b"\x92\x06\x07"


def test_many_frames_in_one_chunk_and_frames_split_anywhere() -> None:
    a, b = open_pair()
    stream = b"".join(
        b"".join(a.send(Reply(request_id=i, value=Box(i, label="n" * i)))) for i in range(50)
    )
    b.receive_data(stream[:7])
    b.receive_data(stream[7:1000])
    events = drain(b)
    b.receive_data(stream[1000:])
    events += drain(b)
    assert events == [Reply(request_id=i, value=Box(i, label="n" * i)) for i in range(50)]
    assert b.next_event() is NEED_DATA


def test_goodbye_closes_with_its_reason() -> None:
    a, b = open_pair()
    b.receive_data(b"".join(a.send(Goodbye(reason="shutting down"))) + b"\x00\x00\x00\x01\xc0")
    assert b.next_event() == ConnectionClosed("shutting down")
    assert b.state is State.CLOSED
    assert b.next_event() == ConnectionClosed()  # anything after the Goodbye is ignored
    with pytest.raises(orb.LocalProtocolError):
        b.send(Ping(token=1))
    b.send(Goodbye(reason="bye too"))  # a Goodbye may still be sent


def test_end_of_stream_between_frames_closes_cleanly() -> None:
    a, b = open_pair()
    b.receive_data(b"".join(a.send(Ping(token=1))))
    b.receive_data(b"")
    assert drain(b) == [Ping(token=1), ConnectionClosed()]
    assert b.state is State.CLOSED


def test_a_message_exactly_at_the_peers_limit_is_sent() -> None:
    a, b = open_pair(max_frame_size=1000)
    value = b"x" * 994  # [3, 1, bin16(994)] is 1 + 1 + 1 + 3 + 994 bytes
    assert len(a.send(Reply(request_id=1, value=value))[1]) == 1000
    (reply,) = transfer(a, b, Reply(request_id=1, value=value))
    assert reply.value == value
    with pytest.raises(orb.LocalProtocolError, match="exceeds the peer's frame limit of 1000"):
        a.send(Reply(request_id=1, value=value + b"x"))


def test_a_large_frame_is_decoded_from_the_buffer() -> None:
    a, b = open_pair(max_frame_size=4 * 1024 * 1024)
    value = bytes(range(256)) * 8192  # 2 MiB: the zero-copy path
    (reply,) = transfer(a, b, Reply(request_id=3, value=value))
    assert reply.value == value
