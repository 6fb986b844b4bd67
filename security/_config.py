"""TLS configuration: one frozen record, given to ``orb.ORB(tls=...)``.

A broker is both a server (for its ``tls://`` listeners) and a client (when
it dials ``tls://`` endpoints), so one :class:`TLSConfig` serves both roles:
``cert``/``key`` are presented to peers in either role, ``ca`` is trusted
to verify peers in either role.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

import attrs

#: TLS versions accepted as ``minimum_version``.
VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def _path(value: Any) -> str | None:
    return None if value is None else os.fspath(value)


def _version(instance: Any, attribute: attrs.Attribute, value: str) -> None:
    if value not in VERSIONS:
        raise ValueError(f"minimum_version must be one of {sorted(VERSIONS)}, not {value!r}")


@attrs.frozen(kw_only=True)
class TLSConfig:
    """Certificates and policy for TLS and mutual TLS.

    * ``cert``: PEM file with this side's certificate (and any intermediate
      CAs after it). Required to listen on ``tls://``; optional for a
      client, which then presents it when a server asks (mutual TLS).
    * ``key``: PEM file with the private key of ``cert`` (None: the key is
      in the ``cert`` file). ``password`` decrypts an encrypted key.
    * ``ca``: PEM bundle of the CA certificates trusted to sign peers'
      certificates. None trusts the system's default CAs for servers and
      no CA for clients.
    * ``require_client_cert``: a ``tls://`` listener refuses clients that
      present no valid certificate (mutual TLS). Without it, clients may
      still present one, and their identity is then visible.
    * ``server_hostname``: the name to verify in the server's certificate
      instead of the host of the endpoint being dialled (useful when you
      dial an IP address that the certificate does not list).
    * ``check_hostname``: verify the server's name at all (default True;
      turn off only with a private CA whose every certificate you trust).
    * ``minimum_version``: ``"TLSv1.2"`` (default) or ``"TLSv1.3"``.
    * ``ciphers``: an OpenSSL cipher string for TLS 1.2 (None: Python's
      secure default).
    """

    cert: str | None = attrs.field(default=None, converter=_path)
    key: str | None = attrs.field(default=None, converter=_path)
    ca: str | None = attrs.field(default=None, converter=_path)
    require_client_cert: bool = False
    server_hostname: str | None = None
    check_hostname: bool = True
    minimum_version: str = attrs.field(default="TLSv1.2", validator=_version)
    ciphers: str | None = None
    password: str | None = attrs.field(default=None, repr=False)

    def __attrs_post_init__(self) -> None:
        if self.key is not None and self.cert is None:
            raise ValueError("TLSConfig: a key was given without its certificate (cert=...)")
        if self.require_client_cert and self.ca is None:
            raise ValueError(
                "TLSConfig: require_client_cert needs ca=... (the CA that signs client "
                "certificates); create one with `orb certs init-ca`"
            )
