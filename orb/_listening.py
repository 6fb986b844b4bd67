"""A broker's listeners and the connections they accept, up to their handshake.

Each listener has an accept thread. A connection the admission bounds
allow (orb._admission) gets a thread of its own, which runs the TLS
handshake if there is one, then the orb handshake, hands the new channel
to the broker and becomes that channel's reader. Until it ends that
thread is tracked with its transport, so closing the broker also drops
connections still in their handshake (they are not channels yet).

Plaintext listening is refused on addresses that are not loopback unless
the broker is configured ``insecure``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._admission import Admission, peer_host
from ._channel import Channel
from ._errors import OrbError, ProtocolError
from ._refs import Endpoint
from ._transport import Listener

if TYPE_CHECKING:
    from ._broker import ORB

log = logging.getLogger("orb.broker")


class Listening:
    """Listens on a broker's endpoints and admits and handshakes the connections that arrive.

    Shares the broker's lock and closed state; ``register`` receives each
    channel once its handshake is done.
    """

    def __init__(
        self, broker: ORB, admission: Admission, register: Callable[[Channel], None]
    ) -> None:
        self._broker = broker
        self._admission = admission
        self._register = register
        self._lock = broker._lock
        self._listeners: list[Any] = []
        #: The accept threads, one per listener.
        self.threads: list[threading.Thread] = []
        self._incoming: dict[threading.Thread, Any] = {}  # reader thread -> its transport

    @property
    def endpoints(self) -> tuple[str, ...]:
        """Where the listeners really listen (a port 0 resolved)."""
        return tuple(str(listener.endpoint) for listener in self._listeners)

    def listen(self, text: str) -> None:
        """Listen on the endpoint ``text`` and start accepting connections there."""
        endpoint = Endpoint.parse(text)
        listener: Any
        if endpoint.scheme == "tls":
            from orb.security import TLSListener

            listener = TLSListener(endpoint, self._broker._tls_contexts())
        elif not endpoint.is_loopback and not self._broker.config.insecure:
            raise ValueError(
                f"refusing to listen in plaintext on {endpoint}: it is not a loopback address, "
                f"and anyone who can reach it could read and forge the traffic. Listen on "
                f"tls://{_host_port(endpoint)} with orb.ORB(tls=orb.security.TLSConfig("
                f"cert=..., key=..., ca=...)) (make the files with `orb certs init-ca` and "
                f"`orb certs issue-server`; see docs/SECURITY.md), or pass insecure=True "
                f"(--insecure) if this network is trusted"
            )
        else:
            listener = Listener(endpoint)
        self._listeners.append(listener)
        thread = threading.Thread(
            target=self._accept_loop, args=(listener,), name=f"orb-accept {listener.endpoint}",
            daemon=True,
        )
        self.threads.append(thread)
        thread.start()

    def incoming(self) -> dict[threading.Thread, Any]:
        """The threads of incoming connections still running, with their transports."""
        with self._lock:
            return dict(self._incoming)

    def close(self) -> None:
        """Stop listening (the accept threads end once the broker is closed)."""
        for listener in self._listeners:
            listener.close()

    def _accept_loop(self, listener: Listener) -> None:
        while not self._broker.closed:
            try:
                transport = listener.accept()
            except OSError as exc:
                if not self._broker.closed:
                    log.error("accept on %s failed: %s", listener.endpoint, exc)
                return
            host = None if listener.endpoint.scheme == "unix" else peer_host(transport.peer_address)
            refused = self._admission.admit(host)
            if refused is not None:
                log.warning("refusing connection from %s: %s", transport.peer_address, refused)
                transport.close()
                continue
            channel = None
            if getattr(listener, "upgrade", None) is None:  # plain: say Hello before the thread starts
                channel = Channel(self._broker, transport, outgoing=False)
                try:
                    channel.send_hello()
                except OSError as exc:
                    log.info("connection from %s lost at once: %s", transport.peer_address, exc)
                    self._admission.release(host)
                    transport.close()
                    continue
            thread = threading.Thread(
                target=self._serve_incoming, args=(listener, transport, host, channel),
                name=f"orb-reader {transport.peer_address}", daemon=True,
            )
            with self._lock:
                if self._broker.closed:
                    self._admission.release(host)
                    transport.close()
                    return
                self._incoming[thread] = transport
            thread.start()

    def _serve_incoming(
        self, listener: Any, transport: Any, host: str | None, channel: Channel | None
    ) -> None:
        try:
            timeout = self._broker.config.limits.handshake_timeout
            deadline = time.monotonic() + timeout
            upgrade = getattr(listener, "upgrade", None)
            if upgrade is not None:  # TLS: the handshake runs here, not on the accept thread
                try:
                    transport = upgrade(transport, deadline)
                except OrbError as exc:
                    log.info("connection from %s refused: %s", transport.peer_address, exc)
                    return
                with self._lock:
                    if threading.current_thread() in self._incoming:
                        self._incoming[threading.current_thread()] = transport
            if channel is None:
                channel = Channel(self._broker, transport, outgoing=False)
            try:
                channel.open(timeout, start_reader=False, deadline=deadline)
            except ProtocolError as exc:
                log.warning(
                    "handshake with %s failed: protocol error: %s", transport.peer_address, exc
                )
                return
            except OrbError as exc:
                log.info("handshake with %s failed: %s", transport.peer_address, exc)
                return
            self._register(channel)
            channel.read_loop()
        finally:
            self._admission.release(host)
            with self._lock:
                self._incoming.pop(threading.current_thread(), None)


def _host_port(endpoint: Endpoint) -> str:
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    return f"{host}:{endpoint.port}"
