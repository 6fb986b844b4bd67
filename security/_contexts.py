"""Building ``ssl.SSLContext`` objects from a :class:`TLSConfig`.

Both contexts share these settings: TLS 1.2 or newer, no compression, no
renegotiation, certificate verification on, hostname verification on for
servers. Session tickets are off: orb keeps connections open for long, so
resumption buys little and would only add state.
"""

from __future__ import annotations

import os
import ssl
import threading

from ._config import VERSIONS, TLSConfig


class Contexts:
    """The server and client contexts of one broker, built on first use."""

    def __init__(self, config: TLSConfig | None) -> None:
        self.config = config if config is not None else TLSConfig()
        self._lock = threading.Lock()
        self._server: ssl.SSLContext | None = None
        self._client: ssl.SSLContext | None = None

    @property
    def server(self) -> ssl.SSLContext:
        """The context of ``tls://`` listeners; ValueError when there is no certificate."""
        with self._lock:
            if self._server is None:
                self._server = server_context(self.config)
            return self._server

    @property
    def client(self) -> ssl.SSLContext:
        """The context used to dial ``tls://`` endpoints."""
        with self._lock:
            if self._client is None:
                self._client = client_context(self.config)
            return self._client


def server_context(config: TLSConfig) -> ssl.SSLContext:
    """An SSL context for accepting connections."""
    if config.cert is None:
        raise ValueError(
            "cannot listen on tls:// without a certificate: give "
            "orb.ORB(tls=orb.security.TLSConfig(cert=..., key=..., ca=...)); "
            "create them with `orb certs init-ca` and `orb certs issue-server`"
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _common(context, config)
    context.num_tickets = 0
    _load_chain(context, config)
    if config.ca is not None:
        _load_ca(context, config.ca)
        context.verify_mode = ssl.CERT_REQUIRED if config.require_client_cert else ssl.CERT_OPTIONAL
    else:
        context.verify_mode = ssl.CERT_NONE
    return context


def client_context(config: TLSConfig) -> ssl.SSLContext:
    """An SSL context for dialling servers."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _common(context, config)
    context.check_hostname = config.check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    if config.ca is not None:
        _load_ca(context, config.ca)
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if config.cert is not None:
        _load_chain(context, config)
    return context


def _common(context: ssl.SSLContext, config: TLSConfig) -> None:
    context.minimum_version = VERSIONS[config.minimum_version]
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    if config.ciphers is not None:
        try:
            context.set_ciphers(config.ciphers)
        except ssl.SSLError as exc:
            raise ValueError(f"invalid TLS cipher string {config.ciphers!r}: {exc}") from None


def _load_chain(context: ssl.SSLContext, config: TLSConfig) -> None:
    assert config.cert is not None
    for path in (config.cert, config.key):
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"cannot read TLS certificate or key {path}: no such file")
    try:
        context.load_cert_chain(config.cert, config.key, password=config.password)
    except ssl.SSLError as exc:
        raise ValueError(
            f"cannot load TLS certificate {config.cert} with key {config.key or '(in the same file)'}: "
            f"{exc.reason or exc} (is the key the one of this certificate, and both PEM?)"
        ) from None
    except OSError as exc:
        raise ValueError(f"cannot read TLS certificate or key: {exc.strerror or exc}") from None


def _load_ca(context: ssl.SSLContext, ca: str) -> None:
    if not os.path.isfile(ca):
        raise ValueError(f"cannot read the CA bundle {ca}: no such file")
    try:
        context.load_verify_locations(cafile=ca)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"cannot load the CA bundle {ca}: {exc}") from None
