"""orb.security: TLS and mutual TLS, certificates, peer identity and authorization.

Serve over mutual TLS and see who calls::

    import orb
    from orb.security import TLSConfig, allow

    tls = TLSConfig(cert="orb-certs/server.pem", key="orb-certs/server.key",
                    ca="orb-certs/ca.pem", require_client_cert=True)

    @orb.expose
    class Vault:
        def whoami(self) -> str:
            return orb.current().peer.identity.common_name

        @allow("admin")
        def wipe(self) -> None: ...

    with orb.ORB(listen="tls://0.0.0.0:7000", tls=tls) as broker:
        broker.export(Vault(), name="vault")
        broker.serve_forever()

* :class:`TLSConfig`: certificates and policy, given to ``orb.ORB(tls=...)``.
* :class:`Identity`: a peer's verified certificate (``orb.current().peer.identity``).
* :func:`allow` and ``orb.ORB(authorize=policy)``: who may call what;
  refusals raise ``orb.AccessDenied``.
* :class:`CertificateAuthority`: the certificate maker behind ``orb certs``.
* :class:`TLSError`: a TLS handshake or peer refusal (an ``orb.CommunicationError``).

See docs/SECURITY.md for the threat model, the limits and deployment.
"""

from typing import Any

from ._authz import Guard, Policy, allow, allow_list, describe_peer
from ._config import TLSConfig
from ._contexts import Contexts, client_context, server_context
from ._identity import Identity
from ._options import add_tls_arguments, tls_from_args
from ._transport import TLSError, TLSListener, TLSTransport, connect

__all__ = [
    "CertificateAuthority",
    "Contexts",
    "Guard",
    "Identity",
    "Issued",
    "Policy",
    "TLSConfig",
    "TLSError",
    "TLSListener",
    "TLSTransport",
    "add_tls_arguments",
    "allow",
    "allow_list",
    "client_context",
    "connect",
    "describe_peer",
    "server_context",
    "tls_from_args",
]


def __getattr__(name: str) -> Any:
    # The certificate maker imports `cryptography`, which brokers that only
    # speak TLS do not need; load it on first use.
    if name in ("CertificateAuthority", "Issued"):
        from . import _certs

        return getattr(_certs, name)
    raise AttributeError(f"module 'orb.security' has no attribute {name!r}")
