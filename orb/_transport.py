"""Transports: move bytes between the wire core and the operating system.

A transport is a blocking byte stream behind the small :class:`Transport`
protocol; TCP and Unix domain sockets share :class:`SocketTransport`, and
TLS (orb.security) wraps the same interface. OS errors are translated to
``orb.CommunicationError`` here, at the boundary, by :func:`translate`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import stat
import struct
from collections.abc import Iterator, Sequence
from typing import Protocol

from ._errors import CommunicationError, TimeoutError
from ._refs import Endpoint

#: Receive buffer size; one recv_into per this many bytes of a large frame.
RECV_SIZE = 256 * 1024

# struct timeval, for SO_RCVTIMEO and SO_SNDTIMEO.
_TIMEVAL = struct.Struct("@ll")


class Transport(Protocol):
    """A connected, blocking byte stream."""

    peer_address: str

    def send(self, buffers: Sequence[bytes]) -> None:
        """Send all the buffers, in order."""

    def recv_into(self, buffer: memoryview) -> int:
        """Read into ``buffer``; return the count, 0 at end of stream."""

    def settimeout(self, timeout: float | None) -> None:
        """Timeout for later sends and receives (None blocks)."""

    def close(self) -> None:
        """Close the stream; idempotent."""


@contextlib.contextmanager
def translate(what: str) -> Iterator[None]:
    """Turn OS-level failures inside the block into orb's errors."""
    try:
        yield
    except socket.timeout:
        raise TimeoutError(f"{what}: timed out") from None
    except OSError as exc:
        raise CommunicationError(f"{what}: {exc.strerror or exc}") from None


class SocketTransport:
    """A TCP or Unix stream socket."""

    def __init__(self, sock: socket.socket, peer_address: str) -> None:
        self.sock = sock
        self.peer_address = peer_address
        self._poller: select.poll | None = None

    def send(self, buffers: Sequence[bytes]) -> None:
        try:
            sent = self.sock.sendmsg(buffers)
            for buffer in buffers:  # after a partial write, finish in order, copying nothing
                size = len(buffer)
                if sent < size:
                    self.sock.sendall(memoryview(buffer)[sent:])
                    sent = 0
                else:
                    sent -= size
        except BlockingIOError:  # SO_SNDTIMEO expired (see settimeout)
            raise socket.timeout("timed out") from None

    def recv_into(self, buffer: memoryview) -> int:
        try:
            return self.sock.recv_into(buffer)
        except BlockingIOError:  # SO_RCVTIMEO expired (see settimeout)
            raise socket.timeout("timed out") from None

    def recv_into_nowait(self, buffer: memoryview) -> int:
        """Like recv_into, but raises BlockingIOError when nothing has arrived (for event loops)."""
        return self.sock.recv_into(buffer, 0, socket.MSG_DONTWAIT)

    def fileno(self) -> int:
        return self.sock.fileno()

    def wait_readable(self, timeout: float) -> bool:
        """True once a read would not block (data, or the end of the stream);
        False when ``timeout`` seconds passed first. Lets a caller with a
        deadline read its own reply (orb._reading)."""
        poller = self._poller
        if poller is None:
            poller = self._poller = select.poll()
            poller.register(self.sock, select.POLLIN)
        return bool(poller.poll(max(timeout, 0.0) * 1000))

    def settimeout(self, timeout: float | None) -> None:
        # The socket stays in blocking mode and the kernel enforces the
        # timeout (SO_RCVTIMEO/SO_SNDTIMEO): a Python-level socket timeout
        # would cost a poll() before every send and receive.
        seconds = 0.0 if timeout is None else max(timeout, 1e-6)
        value = _TIMEVAL.pack(int(seconds), int(seconds % 1 * 1_000_000))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def connect(endpoint: Endpoint, timeout: float) -> SocketTransport:
    """Open a connection to a ``tcp://`` or ``unix://`` endpoint."""
    with translate(f"cannot connect to {endpoint}"):
        if endpoint.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(endpoint.path)
            except BaseException:
                sock.close()
                raise
            sock.settimeout(None)
            return SocketTransport(sock, endpoint.path)
        if endpoint.scheme != "tcp":
            raise CommunicationError(f"cannot connect to {endpoint}: unsupported scheme")
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return SocketTransport(sock, _address(sock.getpeername()))


class Listener:
    """A listening TCP or Unix socket; ``endpoint`` is where it really listens."""

    def __init__(self, endpoint: Endpoint, backlog: int = 128) -> None:
        self._unix_path: str | None = None
        if endpoint.scheme == "unix":
            self.sock = _bind_unix(endpoint.path)
            self._unix_path = endpoint.path
            self.endpoint = endpoint
        elif endpoint.scheme == "tcp":
            family = socket.AF_INET6 if ":" in endpoint.host else socket.AF_INET
            self.sock = socket.socket(family, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                with translate(f"cannot listen on {endpoint}"):
                    self.sock.bind((endpoint.host, endpoint.port))
            except BaseException:
                self.sock.close()
                raise
            host, port = self.sock.getsockname()[:2]
            self.endpoint = Endpoint("tcp", host=endpoint.host, port=port)
        else:
            raise ValueError(f"cannot listen on {endpoint}: unsupported scheme")
        self.sock.listen(backlog)

    def accept(self) -> SocketTransport:
        """Wait for the next connection; raises OSError once closed."""
        sock, address = self.sock.accept()
        if self._unix_path is None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return SocketTransport(sock, _address(address))
        return SocketTransport(sock, self._unix_path)

    def close(self) -> None:
        """Stop listening (waking a blocked accept) and remove a Unix socket file."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        if self._unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._unix_path)


def _bind_unix(path: str) -> socket.socket:
    if os.path.exists(path):
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            raise CommunicationError(f"cannot listen on unix://{path}: a non-socket file is there")
        if _unix_in_use(path):
            raise CommunicationError(f"cannot listen on unix://{path}: another process listens")
        os.unlink(path)  # a stale socket left by a process that died
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with translate(f"cannot listen on unix://{path}"):
            sock.bind(path)
    except BaseException:
        sock.close()
        raise
    return sock


def _unix_in_use(path: str) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
    except OSError as exc:
        return exc.errno not in (errno.ECONNREFUSED, errno.ENOENT)
    else:
        return True
    finally:
        probe.close()


def _address(address: tuple) -> str:
    host, port = address[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
