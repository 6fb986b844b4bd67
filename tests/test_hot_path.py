"""The pieces of the call path made fast hold the same contract as the plain ones.

``Connection.send_call`` frames exactly what ``send(Call(...))`` does; the
channel's call slots behave like a bounded semaphore; the socket transport
times out, waits for data and finishes partial writes like the socket
module would, over real sockets.
"""

from __future__ import annotations

import builtins
import datetime
import os
import socket
import threading
import time

import pytest
from polling import wait_until

import orb
from orb._slots import Slots
from orb._transport import SocketTransport
from orb._wire import CODEC_VERSION, NEED_DATA, Call, Connection, Hello


def _pair() -> tuple[Connection, Connection]:
    codec = orb.Codec()

    def connection() -> Connection:
        return Connection(
            hello=Hello(codec_version=CODEC_VERSION, orb_id=os.urandom(16)),
            encode=codec.encoder(),
            decode=codec.decoder(),
        )

    a, b = connection(), connection()
    for data in a.start():
        b.receive_data(data)
    for data in b.start():
        a.receive_data(data)
    a.next_event()
    b.next_event()
    return a, b


@pytest.mark.parametrize(
    "args, kwargs",
    [
        ([], {}),
        ([1, "two", b"three", None], {"x": 1.5}),
        ([(1, 2), {3}, datetime.date(2024, 1, 2)], {"deep": [[{"a": (1,)}]]}),
        ([b"x" * 100_000], {}),
    ],
)
def test_send_call_frames_what_send_of_a_call_does(args: list, kwargs: dict) -> None:
    a, b = _pair()
    fast = b"".join(a.send_call(7, "object", "method", args, kwargs))
    plain = b"".join(
        a.send(Call(request_id=7, object_id="object", method="method", args=args, kwargs=kwargs))
    )
    assert fast == plain
    b.receive_data(fast)
    assert b.next_event() == Call(
        request_id=7, object_id="object", method="method", args=args, kwargs=kwargs
    )


def test_send_call_before_the_peer_hello_is_refused_like_send() -> None:
    codec = orb.Codec()
    a = Connection(hello=Hello(codec_version=CODEC_VERSION, orb_id=os.urandom(16)),
                   encode=codec.encoder(), decode=codec.decoder())
    with pytest.raises(orb.LocalProtocolError, match="Hello"):
        a.send_call(1, "object", "method", [], {})
    a.start()
    with pytest.raises(orb.LocalProtocolError, match="before the peer's Hello"):
        a.send_call(1, "object", "method", [], {})


def test_slots_count_like_a_bounded_semaphore() -> None:
    slots = Slots(2)
    assert slots.acquire(blocking=False) and slots.acquire(timeout=None)
    assert not slots.acquire(blocking=False)
    started = time.monotonic()
    assert not slots.acquire(timeout=0.05)
    assert time.monotonic() - started >= 0.04
    slots.release()
    slots.release()
    with pytest.raises(ValueError):
        slots.release()


def test_a_caller_waiting_for_a_slot_gets_the_one_released() -> None:
    slots = Slots(1)
    assert slots.acquire()
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(slots.acquire(timeout=10)))
    waiter.start()
    time.sleep(0.05)  # let it block (the result does not depend on it)
    slots.release()
    waiter.join(10)
    assert got == [True]


@pytest.fixture
def sockets() -> tuple[socket.socket, socket.socket]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def test_transport_timeout_raises_timeout_error(sockets: tuple[socket.socket, socket.socket]) -> None:
    transport = SocketTransport(sockets[0], "pair")
    transport.settimeout(0.05)
    started = time.monotonic()
    with pytest.raises(builtins.TimeoutError):
        transport.recv_into(memoryview(bytearray(10)))
    assert time.monotonic() - started >= 0.04
    transport.settimeout(None)
    sockets[1].sendall(b"hello")
    buffer = bytearray(10)
    assert transport.recv_into(memoryview(buffer)) == 5 and buffer[:5] == b"hello"


def test_transport_waits_for_data(sockets: tuple[socket.socket, socket.socket]) -> None:
    transport = SocketTransport(sockets[0], "pair")
    assert not transport.wait_readable(0.02)
    sockets[1].sendall(b"x")
    assert transport.wait_readable(5)
    sockets[1].close()
    transport.recv_into(memoryview(bytearray(1)))
    assert transport.wait_readable(5)  # the end of the stream is readable too


def test_partial_writes_finish_in_order(sockets: tuple[socket.socket, socket.socket]) -> None:
    # Larger than the socket buffers: sendmsg writes part, the rest follows.
    buffers = [os.urandom(10), os.urandom(3_000_000), os.urandom(2_000_000)]
    received = bytearray()

    def read() -> None:
        while len(received) < sum(map(len, buffers)):
            chunk = sockets[1].recv(1 << 20)
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    SocketTransport(sockets[0], "pair").send(buffers)
    reader.join(10)
    assert bytes(received) == b"".join(buffers)


def test_encoding_a_large_value_keeps_no_large_buffer() -> None:
    import gc
    import tracemalloc

    encode = orb.Codec().encoder()
    encode([1, "warm up"])
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert len(encode([b"x" * 10_000_000])) > 10_000_000
        for _ in range(3):
            encode([1, "small"])
        gc.collect()
        assert tracemalloc.get_traced_memory()[0] - before < 1_000_000
    finally:
        tracemalloc.stop()


def test_bytes_needed_says_how_much_of_a_frame_is_missing() -> None:
    a, b = _pair()
    assert b.bytes_needed() == 0
    frame = b"".join(a.send_call(1, "object", "method", [b"x" * 100_000], {}))
    b.receive_data(frame[:2])
    assert b.bytes_needed() == 0  # the length is not known yet
    b.receive_data(frame[2:10])
    assert b.bytes_needed() == len(frame) - 10
    b.receive_data(frame[10:])
    assert b.bytes_needed() == 0
    assert b.next_event().args == [b"x" * 100_000]


def test_a_large_frame_read_in_place_decodes_like_one_fed_in_pieces() -> None:
    a, b = _pair()
    payload = os.urandom(300_000)
    frame = b"".join(a.send_call(9, "object", "method", [payload], {}))
    frame += b"".join(a.send_call(10, "object", "method", ["next"], {}))
    b.receive_data(frame[:1000])
    assert b.next_event() is NEED_DATA
    view = b.receive_buffer()
    assert len(view) == b.bytes_needed() > 200_000
    view[:50_000] = frame[1000:51_000]
    view.release()
    b.received_into(50_000)
    b.receive_data(frame[51_000:])  # the rest, and the next frame, fed as usual
    assert b.next_event().args == [payload]
    assert b.next_event().args == ["next"]
    assert b.next_event() is NEED_DATA


def test_a_stream_ending_inside_a_frame_read_in_place_is_a_protocol_error() -> None:
    a, b = _pair()
    frame = b"".join(a.send_call(9, "object", "method", [b"x" * 100_000], {}))
    b.receive_data(frame[:100])
    assert b.next_event() is NEED_DATA
    b.receive_buffer().release()
    b.received_into(0)
    with pytest.raises(orb.ProtocolError, match="inside a frame"):
        b.next_event()


def test_calls_left_for_a_writer_that_fails_end_with_the_connection() -> None:
    """Threads calling while another writes leave their frames to it; when its
    write fails, every one of those calls fails too, none hangs."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    handshaken = threading.Event()

    def serve_hello_then_stop_reading() -> None:
        sock, _ = listener.accept()
        accepted.append(sock)
        peer = Connection(
            hello=Hello(codec_version=CODEC_VERSION, orb_id=os.urandom(16)),
            encode=orb.Codec().encoder(),
            decode=orb.Codec().decoder(),
        )
        sock.sendall(b"".join(peer.start()))
        while peer.next_event() is NEED_DATA:
            peer.receive_data(sock.recv(65536))
        handshaken.set()  # and reads nothing more: the client's big write blocks

    server = threading.Thread(target=serve_hello_then_stop_reading, daemon=True)
    server.start()
    port = listener.getsockname()[1]
    outcomes: dict[str, BaseException | None] = {}
    try:
        with orb.ORB() as client:
            ref = orb.ObjectRef.from_uri(f"orb://127.0.0.1:{port}/thing")
            channel = client._channels.for_ref(ref)
            assert handshaken.wait(5)

            def call(name: str, args: list) -> None:
                try:
                    channel.call("thing", name, args, {}, None)
                    outcomes[name] = None
                except BaseException as exc:  # noqa: BLE001 - recorded for the assertions
                    outcomes[name] = exc

            big = threading.Thread(target=call, args=("put", [b"x" * 32_000_000]))
            big.start()
            wait_until(lambda: channel._writing, "the big write to start")
            small = [
                threading.Thread(target=call, args=(f"echo{i}", [i])) for i in range(4)
            ]
            for thread in small:
                thread.start()
            wait_until(lambda: len(channel._queued) == 8, "the small calls to be left to the writer")
            accepted[0].close()  # unread data: the client's write fails (reset)
            for thread in [big, *small]:
                thread.join(10)
                assert not thread.is_alive()
    finally:
        listener.close()
    assert set(outcomes) == {"put", "echo0", "echo1", "echo2", "echo3"}
    for name, outcome in outcomes.items():
        assert isinstance(outcome, orb.CommunicationError), (name, outcome)

