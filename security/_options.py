"""TLS options shared by the command-line tools (``orb``, ``orb-naming``, demos).

Each option falls back to an environment variable, so a deployment can set
them once: ``ORB_TLS_CERT``, ``ORB_TLS_KEY``, ``ORB_TLS_CA`` and
``ORB_TLS_REQUIRE_CLIENT_CERT`` (``1``/``true``/``yes``). Only CLIs read
these; the library takes a :class:`TLSConfig`.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from ._config import TLSConfig

ENV_CERT = "ORB_TLS_CERT"
ENV_KEY = "ORB_TLS_KEY"
ENV_CA = "ORB_TLS_CA"
ENV_REQUIRE = "ORB_TLS_REQUIRE_CLIENT_CERT"


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    """Add --tls-cert, --tls-key, --tls-ca, --require-client-cert and --tls-server-name."""
    group = parser.add_argument_group(
        "TLS", "certificates for tls:// endpoints (make them with `orb certs`)"
    )
    group.add_argument("--tls-cert", metavar="PEM",
                       help=f"this side's certificate (default ${ENV_CERT})")
    group.add_argument("--tls-key", metavar="PEM",
                       help=f"private key of --tls-cert (default ${ENV_KEY})")
    group.add_argument("--tls-ca", metavar="PEM",
                       help=f"CA bundle trusted to sign peers' certificates (default ${ENV_CA})")
    group.add_argument("--require-client-cert", action="store_true", default=None,
                       help=f"refuse TLS clients without a valid certificate (mutual TLS; "
                       f"default ${ENV_REQUIRE})")
    group.add_argument("--tls-server-name", metavar="NAME",
                       help="name to verify in servers' certificates instead of the dialled host")


def tls_from_args(args: argparse.Namespace,
                  environ: Mapping[str, str] | None = None) -> TLSConfig | None:
    """The TLSConfig the options (or environment) describe; None when none is given.

    Raises ValueError with a readable message for inconsistent options.
    """
    env = os.environ if environ is None else environ
    cert = getattr(args, "tls_cert", None) or env.get(ENV_CERT) or None
    key = getattr(args, "tls_key", None) or env.get(ENV_KEY) or None
    ca = getattr(args, "tls_ca", None) or env.get(ENV_CA) or None
    require = getattr(args, "require_client_cert", None)
    if require is None:
        require = env.get(ENV_REQUIRE, "").strip().lower() in ("1", "true", "yes", "on")
    server_name = getattr(args, "tls_server_name", None)
    if not (cert or key or ca or require or server_name):
        return None
    for label, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-ca", ca)):
        if path is not None and not os.path.isfile(path):
            raise ValueError(f"{label} {path}: no such file")
    return TLSConfig(cert=cert, key=key, ca=ca, require_client_cert=bool(require),
                     server_hostname=server_name)
