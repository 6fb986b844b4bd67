"""The TLS transport: orb's small Transport interface over TLS.

OpenSSL forbids using one ``SSL`` object from two threads at once, but an
orb channel reads on its reader thread while callers send on their own.
So TLS runs over memory BIOs (``ssl.SSLObject``): the TLS state is touched
only under ``_ssl_lock``, which is never held during socket I/O, and
ciphertext leaves the outgoing BIO only under ``_send_lock``, so records go
out in the order they were made. The reader blocks in ``recv`` on the raw
socket without holding either lock.

The TLS handshake runs on the connection's own thread (never the accept
thread), bounded in total by a deadline, so a slow or silent client costs
one thread for at most the handshake timeout.
"""

from __future__ import annotations

import builtins
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from typing import cast

from orb._errors import CommunicationError, TimeoutError
from orb._refs import Endpoint
from orb._transport import Listener, SocketTransport
from orb._transport import connect as connect_plain

from ._contexts import Contexts
from ._identity import Identity

#: Raw bytes read from the socket at a time.
RAW_RECV_SIZE = 256 * 1024
# Messages up to this size are joined and encrypted as one piece; larger
# ones are fed to TLS in slices of _CHUNK, without joining (no big copy).
_JOIN_BELOW = 64 * 1024
_CHUNK = 256 * 1024


class TLSError(CommunicationError):
    """A TLS handshake failed or a TLS peer refused this side; the message says why."""


TLSError.__module__ = "orb.security"


class TLSTransport:
    """A TLS connection over a connected TCP socket (see the module docstring)."""

    #: Channels over this transport are encrypted and authenticated.
    secure = True

    def __init__(self, sock: socket.socket, peer_address: str, obj: ssl.SSLObject,
                 incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO) -> None:
        self.sock = sock
        self.peer_address = peer_address
        self._obj = obj
        self._incoming = incoming
        self._outgoing = outgoing
        self._ssl_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._raw = bytearray(RAW_RECV_SIZE)
        self._server_side = obj.server_side
        self._failure: ssl.SSLError | None = None
        self.identity: Identity | None = None
        self.version: str | None = None
        self.cipher: str | None = None

    def __repr__(self) -> str:
        return f"<orb TLSTransport {self.peer_address} {self.version or 'handshaking'}>"

    # -- handshake ------------------------------------------------------

    def handshake(self, deadline: float) -> None:
        """Run the TLS handshake, finishing by ``deadline`` (a time.monotonic() value)."""
        try:
            while True:
                try:
                    self._obj.do_handshake()
                    break
                except ssl.SSLWantReadError:
                    self._flush(deadline)
                    self._fill(deadline)
            self._flush(deadline)
        except ssl.SSLError as exc:
            self._flush_quietly()  # the alert tells the peer why
            raise TLSError(explain(exc, self.peer_address, server_side=self._server_side)) from None
        except builtins.TimeoutError:
            raise TimeoutError(
                f"TLS handshake with {self.peer_address} did not complete in time"
            ) from None
        except OSError as exc:
            raise CommunicationError(
                f"TLS handshake with {self.peer_address} failed: {exc.strerror or exc}"
            ) from None
        der = self._obj.getpeercert(binary_form=True)
        self.identity = Identity.from_der(der) if der else None
        self.version = self._obj.version()
        cipher = self._obj.cipher()
        self.cipher = cipher[0] if cipher else None

    def _fill(self, deadline: float | None, flags: int = 0) -> None:
        if deadline is not None:
            self.sock.settimeout(_remaining(deadline))
        count = self.sock.recv_into(self._raw, 0, flags)
        if count:
            self._incoming.write(memoryview(self._raw)[:count])
        else:
            self._incoming.write_eof()

    def _flush(self, deadline: float | None = None) -> None:
        with self._send_lock:
            with self._ssl_lock:
                data = self._outgoing.read()
            if data:
                if deadline is not None:
                    self.sock.settimeout(_remaining(deadline))
                self.sock.sendall(data)

    def _flush_quietly(self) -> None:
        try:
            self.sock.settimeout(1.0)
            self._flush()
        except OSError:
            pass

    # -- the Transport interface ----------------------------------------

    def send(self, buffers: Sequence[bytes]) -> None:
        if len(buffers) == 1:
            pieces: Sequence[bytes | memoryview] = buffers
        elif sum(len(b) for b in buffers) <= _JOIN_BELOW:
            pieces = [b"".join(buffers)]
        else:
            pieces = [
                memoryview(b)[i : i + _CHUNK] for b in buffers for i in range(0, len(b), _CHUNK)
            ]
        with self._send_lock:
            for piece in pieces:
                with self._ssl_lock:
                    try:
                        self._obj.write(piece)
                    except ssl.SSLError as exc:
                        raise CommunicationError(
                            f"TLS connection to {self.peer_address} failed: {exc.reason or exc}"
                        ) from None
                    data = self._outgoing.read()
                self.sock.sendall(data)

    def recv_into(self, buffer: memoryview) -> int:
        return self._recv_into(buffer, 0)

    def recv_into_nowait(self, buffer: memoryview) -> int:
        """Like recv_into, but raises BlockingIOError when no whole record has arrived.

        For an event loop reading the connection (orb._loopreading); the
        socket must be in blocking mode without a timeout (an outgoing
        connection after its handshake).
        """
        return self._recv_into(buffer, socket.MSG_DONTWAIT)

    def fileno(self) -> int:
        return self.sock.fileno()

    def buffered(self) -> bool:
        """Whether bytes already received wait to be decrypted and read.

        A reader that does not block must read again while this holds: the
        socket will not tell it that they are there.
        """
        with self._ssl_lock:
            return self._obj.pending() > 0 or self._incoming.pending > 0

    def _recv_into(self, buffer: memoryview, flags: int) -> int:
        size = len(buffer)
        while True:
            failure: ssl.SSLError | None = None
            with self._ssl_lock:
                count = self._read(buffer, size)
                if count == -2:
                    failure = self._failure
                pending = self._outgoing.pending
            if pending:
                self._flush()  # e.g. a reply to a key update
            if failure is not None:
                raise TLSError(explain(failure, self.peer_address, server_side=self._server_side))
            if count >= 0:
                return count
            self._fill(None, flags)

    def _read(self, buffer: memoryview, size: int) -> int:
        """Decrypted bytes into ``buffer``: a count, 0 at EOF, -1 for want-read, -2 on error."""
        count = 0
        while count < size:
            try:
                got = cast(int, self._obj.read(size - count, buffer[count:]))
            except ssl.SSLWantReadError:
                return count if count else -1
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                # A clean close_notify, or the TCP stream ended without one: both
                # are the end of the stream here; orb's framing detects truncation.
                return count
            except ssl.SSLError as exc:
                if count:
                    return count
                self._failure = exc
                return -2
            if not got:
                return count
            count += got
        return count

    def settimeout(self, timeout: float | None) -> None:
        self.sock.settimeout(timeout)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def _remaining(deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise builtins.TimeoutError("deadline passed")
    return remaining


def wrap(sock: socket.socket, peer_address: str, context: ssl.SSLContext, *,
         server_side: bool, server_hostname: str | None = None) -> TLSTransport:
    """A TLS transport over ``sock``, before its handshake."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = context.wrap_bio(
        incoming, outgoing, server_side=server_side,
        server_hostname=None if server_side else server_hostname,
    )
    return TLSTransport(sock, peer_address, obj, incoming, outgoing)


def connect(endpoint: Endpoint, contexts: Contexts, *, connect_timeout: float,
            handshake_timeout: float) -> TLSTransport:
    """Dial a ``tls://`` endpoint: connect over TCP, then complete the TLS handshake."""
    plain = connect_plain(Endpoint("tcp", host=endpoint.host, port=endpoint.port), connect_timeout)
    try:
        hostname = contexts.config.server_hostname or endpoint.host
        transport = wrap(plain.sock, plain.peer_address, contexts.client,
                         server_side=False, server_hostname=hostname)
        transport.handshake(time.monotonic() + handshake_timeout)
        transport.settimeout(None)
    except BaseException:
        plain.close()
        raise
    return transport


class TLSListener:
    """A ``tls://`` listener: accepts TCP connections; :meth:`upgrade` runs the handshake.

    ``accept`` never does TLS work, so one slow client cannot stall the
    accept loop; the broker calls :meth:`upgrade` on the connection's own
    thread.
    """

    def __init__(self, endpoint: Endpoint, contexts: Contexts) -> None:
        self._context = contexts.server  # fails (ValueError) before binding anything
        self._plain = Listener(Endpoint("tcp", host=endpoint.host, port=endpoint.port))
        self.sock = self._plain.sock
        self.endpoint = Endpoint("tls", host=endpoint.host, port=self._plain.endpoint.port)

    def accept(self) -> SocketTransport:
        """The next TCP connection, not yet secured; raises OSError once closed."""
        return self._plain.accept()

    def upgrade(self, transport: SocketTransport, deadline: float) -> TLSTransport:
        """Run the server side of the TLS handshake on an accepted connection."""
        secure = wrap(transport.sock, transport.peer_address, self._context, server_side=True)
        try:
            secure.handshake(deadline)
        except BaseException:
            transport.close()
            raise
        return secure

    def close(self) -> None:
        self._plain.close()


# -- error messages --------------------------------------------------------

_NOT_TLS = {
    "WRONG_VERSION_NUMBER", "HTTP_REQUEST", "HTTPS_PROXY_REQUEST", "RECORD_LAYER_FAILURE",
    "PACKET_LENGTH_TOO_LONG", "UNKNOWN_PROTOCOL", "RECORD_TOO_LARGE", "WRONG_SSL_VERSION",
    "UNEXPECTED_RECORD", "UNEXPECTED_MESSAGE", "LENGTH_MISMATCH", "BAD_PACKET_LENGTH",
    "DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "BAD_RECORD_TYPE", "LENGTH_TOO_SHORT",
}

# Alerts a server sends when it refuses the client's certificate.
_REFUSED_CLIENT = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "it requires a client certificate and none was sent; "
    "give this side one with TLSConfig(cert=..., key=...) (--tls-cert/--tls-key), "
    "made with `orb certs issue-client`",
    "TLSV1_ALERT_UNKNOWN_CA": "it does not trust the CA that signed this side's certificate "
    "(issue the certificate from the CA the server trusts)",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "this side's certificate has expired; issue a new one",
    "SSLV3_ALERT_BAD_CERTIFICATE": "it rejected this side's certificate",
    "SSLV3_ALERT_UNSUPPORTED_CERTIFICATE": "it does not accept this side's certificate "
    "for client authentication",
    "SSLV3_ALERT_CERTIFICATE_REVOKED": "this side's certificate was revoked",
    "TLSV1_ALERT_ACCESS_DENIED": "it denied access to this side's certificate",
    "SSLV3_ALERT_CERTIFICATE_UNKNOWN": "it could not verify this side's certificate",
}

_VERIFY_HINTS = {
    # X509_V_ERR_* codes (see openssl verify(1))
    9: "its validity starts in the future (check the clocks)",
    10: "it has expired; issue a new one",
    18: "it is self-signed and not in the trusted CA bundle; pass the CA with "
    "TLSConfig(ca=...) (--tls-ca)",
    19: "it is signed by a CA that is not trusted here; pass that CA with TLSConfig(ca=...) "
    "(--tls-ca)",
    20: "it is signed by a CA that is not trusted here; pass that CA with TLSConfig(ca=...) "
    "(--tls-ca)",
    21: "it is signed by a CA that is not trusted here; pass that CA with TLSConfig(ca=...) "
    "(--tls-ca)",
    26: "it is not meant for this purpose (wrong extended key usage)",
    62: "it does not list the name that was dialled; issue one with --host/--ip for that "
    "name, dial a name it lists, or set TLSConfig(server_hostname=...)",
    64: "it does not list the IP address that was dialled; issue one with --ip for that "
    "address, or set TLSConfig(server_hostname=...) to a name it lists",
}


def explain(exc: ssl.SSLError, address: str, *, server_side: bool) -> str:
    """A readable account of a TLS failure, with what to do about it."""
    reason = getattr(exc, "reason", None) or ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        whose = f"the client certificate from {address}" if server_side else (
            f"the certificate of the server at {address}"
        )
        detail = (exc.verify_message or reason or str(exc)).rstrip(".")
        hint = _VERIFY_HINTS.get(exc.verify_code or 0)
        return f"TLS: {whose} was refused: {detail}" + (f"; {hint}" if hint else "")
    if reason in _REFUSED_CLIENT and not server_side:
        return f"TLS: the server at {address} refused this client: {_REFUSED_CLIENT[reason]}"
    if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
        return f"TLS: the client at {address} sent no certificate, and this listener requires one"
    if reason in ("SSLV3_ALERT_HANDSHAKE_FAILURE", "NO_SHARED_CIPHER", "NO_PROTOCOLS_AVAILABLE",
                  "UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "VERSION_TOO_LOW"):
        peer = "client" if server_side else "server"
        extra = "" if server_side else (
            " (or it requires a client certificate: give one with TLSConfig(cert=..., key=...))"
        )
        return (f"TLS: no agreement with the {peer} at {address} on version or ciphers "
                f"({reason}){extra}")
    if reason in _NOT_TLS:
        if server_side:
            return f"TLS: the client at {address} does not speak TLS ({reason})"
        return (f"TLS: the server at {address} does not speak TLS ({reason}); is it listening on "
                "tcp:// rather than tls://?")
    if isinstance(exc, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
        return f"TLS: {address} closed the connection during the TLS handshake"
    return f"TLS: connection with {address} failed: {reason or exc}"
