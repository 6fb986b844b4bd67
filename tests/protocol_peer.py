"""A client that speaks orb's protocol over a plain socket, exactly as a test tells it.

It completes the handshake, then sends the Call frames it is given (many at
once, or past the limits the server announced) and reads back what the
server answers, message by message, with the sans-I/O connection.
"""

from __future__ import annotations

import socket
from typing import Any

from orb._refs import Endpoint
from orb._wire import CODEC_VERSION, NEED_DATA, Codec, Connection, Hello


class ProtocolPeer:
    """A handshaken connection to ``endpoint`` (``tcp://host:port``)."""

    def __init__(self, endpoint: str, timeout: float = 5.0) -> None:
        where = Endpoint.parse(endpoint)
        self.sock = socket.create_connection((where.host, where.port), timeout=timeout)
        codec = Codec()
        self.conn = Connection(
            hello=Hello(codec_version=CODEC_VERSION, orb_id=b"p" * 16),
            encode=codec.encoder(),
            decode=codec.decoder(),
        )
        self.sock.sendall(b"".join(self.conn.start()))
        assert isinstance(self.next_event(), Hello)

    def send_calls(self, object_id: str, calls: list[tuple[int, str, list]]) -> None:
        """Send ``(request_id, method, args)`` calls in one write: the server reads them together."""
        self.sock.sendall(b"".join(
            b"".join(self.conn.send_call(request_id, object_id, method, args, {}))
            for request_id, method, args in calls
        ))

    def next_event(self) -> Any:
        """The next message from the server (waiting for it, up to the socket's timeout)."""
        while (event := self.conn.next_event()) is NEED_DATA:
            self.conn.receive_data(self.sock.recv(65536))
        return event

    def reply(self) -> tuple[int, Any]:
        """The next message, a Reply, as ``(request_id, value)``."""
        event = self.next_event()
        return event.request_id, event.value

    def close(self) -> None:
        self.sock.close()
