"""The floor: the least a Python RPC over a socket can do.

A blocking-socket client and a thread-per-connection server exchanging
frames of a 4-byte big-endian length followed by one msgpack value; the
server echoes every value back. No request ids, no objects, no errors, no
handshake: what is left is one ``sendall`` and two ``recv_into`` per call,
plus msgpack. No Python RPC system can beat it by much, so orb's numbers
are quoted as a fraction of it.

The asyncio client pipelines: it writes frames as tasks ask and resolves
their futures in order as the replies come back (the server answers in
order), which is the least an asyncio RPC can do.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import struct
import threading
from typing import Any

import msgpack

HEADER = struct.Struct(">I")


def _recv_exactly(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        count = sock.recv_into(view[got:])
        if not count:
            raise ConnectionError("peer closed the connection")
        got += count
    return buffer


def _send_frame(sock: socket.socket, value: Any) -> None:
    payload = msgpack.packb(value, use_bin_type=True)
    sock.sendmsg([HEADER.pack(len(payload)), payload])


def _recv_frame(sock: socket.socket) -> Any:
    (size,) = HEADER.unpack(_recv_exactly(sock, HEADER.size))
    return msgpack.unpackb(_recv_exactly(sock, size), raw=False)


class FloorClient:
    """One connection; ``echo`` sends a value and waits for it to come back."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._lock = threading.Lock()  # threads sharing one client take turns

    def echo(self, value: Any) -> Any:
        with self._lock:
            _send_frame(self.sock, value)
            return _recv_frame(self.sock)

    def close(self) -> None:
        self.sock.close()


class AsyncFloorClient:
    """An asyncio connection that pipelines frames and matches replies in order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._waiting: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._task = asyncio.get_running_loop().create_task(self._read_replies())

    @classmethod
    async def connect(cls, address: tuple[str, int]) -> AsyncFloorClient:
        reader, writer = await asyncio.open_connection(*address)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def echo(self, value: Any) -> Any:
        future = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        payload = msgpack.packb(value, use_bin_type=True)
        self._writer.write(HEADER.pack(len(payload)) + payload)
        await self._writer.drain()
        return await future

    async def _read_replies(self) -> None:
        try:
            while True:
                (size,) = HEADER.unpack(await self._reader.readexactly(HEADER.size))
                value = msgpack.unpackb(await self._reader.readexactly(size), raw=False)
                self._waiting.popleft().set_result(value)
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            while self._waiting:
                self._waiting.popleft().set_exception(ConnectionError(str(exc)))

    async def close(self) -> None:
        self._task.cancel()
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except ConnectionError:
            pass


def _serve_connection(sock: socket.socket) -> None:
    with sock:
        try:
            while True:
                _send_frame(sock, _recv_frame(sock))
        except (ConnectionError, OSError):
            return


def serve(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """Listen on ``host:port`` and serve each connection on its own thread.

    Returns the listening socket (its ``getsockname()`` has the real port);
    the accept loop runs on a daemon thread until the socket is closed.
    """
    listener = socket.create_server((host, port))

    def accept_loop() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=_serve_connection, args=(sock,), daemon=True).start()

    threading.Thread(target=accept_loop, name="floor-accept", daemon=True).start()
    return listener
