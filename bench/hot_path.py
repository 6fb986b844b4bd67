"""orb's blocking call path timed without sockets, on one thread.

``python -m bench.hot_path`` drives the real code over in-memory
transports, so no system call, context switch or other process adds its
noise, and prints for each side of a call:

* **server**: a channel's reader thread (``Reading.background``) reads
  prepared Call frames one after another, runs each (an echo) and writes
  the Reply into a transport that only counts it;
* **client**: ``Channel.call`` frames its Call, a fake peer (a sans-I/O
  connection inside the transport) answers it at once, and the caller
  reads the Reply itself. This side includes the fake peer's work.

Each number is CPU time per call (``time.thread_time``), best of several
rounds, plus the Python function calls per call counted by ``cProfile``
(a number that does not depend on the machine's mood). On a shared machine
compare two versions with this rather than with round trips::

    .venv/bin/python -m bench.hot_path [--calls 20000] [--rounds 5]

This is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from collections.abc import Callable
from typing import Any

import orb
from orb._channel import Channel
from orb._wire import CODEC_VERSION, NEED_DATA, Call, Connection, Hello, Reply


@orb.expose
class Echo:
    def echo(self, value: Any) -> Any:
        return value


def _peer() -> Connection:
    """A sans-I/O connection playing the other broker."""
    codec = orb.Codec()
    return Connection(
        hello=Hello(codec_version=CODEC_VERSION, orb_id=os.urandom(16)),
        encode=codec.encoder(),
        decode=codec.decoder(),
    )


class _Feed:
    """A server's transport: hands out prepared frames, one per read; counts what is sent."""

    peer_address = "in-memory"

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.next = 0
        self.writes = 0

    def send(self, buffers: list[bytes]) -> None:
        self.writes += 1

    def recv_into(self, view: memoryview) -> int:
        if self.next == len(self.chunks):
            return 0  # the end of the stream: the reader closes the channel
        data = self.chunks[self.next]
        self.next += 1
        view[: len(data)] = data
        return len(data)

    def settimeout(self, timeout: float | None) -> None:
        pass

    def close(self) -> None:
        pass


class _Answering:
    """A client's transport: a fake peer answers every Call at once."""

    peer_address = "in-memory"

    def __init__(self, peer: Connection) -> None:
        self.peer = peer
        self.replies: list[bytes] = [b"".join(peer.start())]

    def send(self, buffers: list[bytes]) -> None:
        self.peer.receive_data(b"".join(buffers))
        while (event := self.peer.next_event()) is not NEED_DATA:
            if isinstance(event, Call):
                reply = Reply(request_id=event.request_id, value=event.args[0])
                self.replies.append(b"".join(self.peer.send(reply)))

    def recv_into(self, view: memoryview) -> int:
        data = self.replies.pop(0)
        view[: len(data)] = data
        return len(data)

    def wait_readable(self, timeout: float) -> bool:
        return True

    def settimeout(self, timeout: float | None) -> None:
        pass

    def close(self) -> None:
        pass


def serve(calls: int, profile: cProfile.Profile | None = None) -> float:
    """CPU seconds of the server side for ``calls`` calls."""
    with orb.ORB() as broker:
        broker.export(Echo(), object_id="echo")
        peer = _peer()
        server_hello = Connection(
            hello=broker._hello(), encode=broker._encode, decode=broker.codec.decoder()
        ).start()
        transport = _Feed([b"".join(peer.start())])
        channel = Channel(broker, transport, outgoing=False)
        channel.open(5.0, start_reader=False)
        peer.receive_data(b"".join(server_hello))
        assert isinstance(peer.next_event(), Hello)
        transport.chunks += [
            b"".join(peer.send_call(i + 1, "echo", "echo", [1], {})) for i in range(calls)
        ]
        if profile is not None:
            profile.enable()
        start = time.thread_time()
        channel._reading.background()  # until the prepared frames run out
        used = time.thread_time() - start
        if profile is not None:
            profile.disable()
        if transport.writes < calls:
            raise AssertionError(f"{transport.writes} replies for {calls} calls")
        return used


def call(calls: int, profile: cProfile.Profile | None = None) -> float:
    """CPU seconds of the client side (and the fake peer) for ``calls`` calls."""
    with orb.ORB() as broker:
        channel = Channel(broker, _Answering(_peer()), outgoing=True)
        channel.open(5.0, start_reader=False)
        for _ in range(100):
            channel.call("echo", "echo", [1], {}, None)
        if profile is not None:
            profile.enable()
        start = time.thread_time()
        for _ in range(calls):
            channel.call("echo", "echo", [1], {}, None)
        used = time.thread_time() - start
        if profile is not None:
            profile.disable()
        return used


def measure(side: Callable[..., float], calls: int, rounds: int) -> tuple[float, float]:
    """Best CPU µs per call over ``rounds``, and Python function calls per call."""
    best = min(side(calls) for _ in range(rounds)) / calls * 1e6
    profile = cProfile.Profile()
    side(calls, profile)
    return best, pstats.Stats(profile).total_calls / calls  # type: ignore[attr-defined]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hot_path", description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20_000, help="calls per round (20000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best counts (5)")
    args = parser.parse_args(argv)
    for name, side in (("server", serve), ("client", call)):
        micros, functions = measure(side, args.calls, args.rounds)
        print(f"{name}: {micros:6.2f} µs CPU per call, {functions:5.1f} Python function calls per call")


if __name__ == "__main__":
    main()
