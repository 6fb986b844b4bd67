"""``orb certs``: make a private CA and issue server and client certificates.

::

    orb certs init-ca                          # orb-certs/ca.pem, orb-certs/ca.key
    orb certs issue-server --host calc.lan --ip 10.0.0.5
    orb certs issue-client --name alice        # orb-certs/alice.pem, alice.key
    orb certs show orb-certs/alice.pem

Private keys are written with mode 0600; existing files are never replaced
unless ``--force`` is given.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import sys
from typing import Any

DEFAULT_DIR = "orb-certs"


def add_certs_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``certs`` on an argparse subparsers object; it runs via ``args.func(args)``."""
    certs = subparsers.add_parser(
        "certs", help="make a CA and issue TLS certificates",
        description="Make a private certificate authority and issue server and client "
        "certificates for orb's TLS and mutual TLS.",
    )
    certs.set_defaults(func=lambda args: _usage(certs))
    commands = certs.add_subparsers(dest="certs_command", metavar="COMMAND")

    def common(p: argparse.ArgumentParser, *, issuing: bool) -> None:
        p.add_argument("--dir", default=DEFAULT_DIR,
                       help=f"directory for the files (default ./{DEFAULT_DIR})")
        p.add_argument("--days", type=int, help="validity in days")
        p.add_argument("--force", action="store_true", help="replace existing files")
        if issuing:
            p.add_argument("--ca", metavar="PEM", help="CA certificate (default DIR/ca.pem)")
            p.add_argument("--ca-key", metavar="PEM", help="CA private key (default DIR/ca.key)")
            p.add_argument("--out", metavar="NAME",
                           help="base name of the files written (NAME.pem, NAME.key)")

    init = commands.add_parser("init-ca", help="create a certificate authority")
    common(init, issuing=False)
    init.add_argument("--name", default="orb CA", help="the CA's common name (default 'orb CA')")
    init.set_defaults(func=_init_ca)

    server = commands.add_parser("issue-server", help="issue a server certificate")
    common(server, issuing=True)
    server.add_argument("--host", action="append", default=[], metavar="NAME",
                        help="DNS name clients dial (repeatable)")
    server.add_argument("--ip", action="append", default=[], metavar="ADDRESS",
                        help="IP address clients dial (repeatable)")
    server.add_argument("--name", help="common name (default: the first host or IP)")
    server.set_defaults(func=_issue_server)

    client = commands.add_parser("issue-client", help="issue a client certificate")
    common(client, issuing=True)
    client.add_argument("--name", required=True,
                        help="the client's identity (certificate common name)")
    client.set_defaults(func=_issue_client)

    show = commands.add_parser("show", help="print what a certificate says")
    show.add_argument("files", nargs="+", metavar="PEM")
    show.set_defaults(func=_show)
    return certs


def main(argv: list[str] | None = None) -> int:
    """Run ``orb certs`` on its own (``python -m orb.security._cli``)."""
    parser = argparse.ArgumentParser(prog="orb")
    add_certs_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["certs", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args) or 0)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _paths(args: argparse.Namespace, base: str) -> tuple[str, str]:
    return os.path.join(args.dir, f"{base}.pem"), os.path.join(args.dir, f"{base}.key")


def _prepare(args: argparse.Namespace, *paths: str) -> bool:
    os.makedirs(args.dir, exist_ok=True)
    existing = [p for p in paths if os.path.exists(p)]
    if existing and not args.force:
        print(f"orb certs: {', '.join(existing)} already exist(s); use --force to replace",
              file=sys.stderr)
        return False
    return True


def _init_ca(args: argparse.Namespace) -> int:
    from ._certs import CA_DAYS, CertificateAuthority

    cert_path, key_path = _paths(args, "ca")
    if not _prepare(args, cert_path, key_path):
        return 1
    ca = CertificateAuthority.create(args.name, days=args.days or CA_DAYS)
    ca.save(cert_path, key_path, overwrite=args.force)
    print(f"Created certificate authority {ca.name!r}")
    _describe(ca.cert)
    print(f"  certificate  {cert_path}   give it to every server and client (--tls-ca)")
    print(f"  private key  {key_path}   mode 0600; keep it secret: it can sign any identity")
    print(f"Next: orb certs issue-server --dir {args.dir} --host HOSTNAME --ip ADDRESS")
    return 0


def _load_ca(args: argparse.Namespace) -> Any:
    from ._certs import CertificateAuthority

    ca_cert = args.ca or os.path.join(args.dir, "ca.pem")
    ca_key = args.ca_key or os.path.join(args.dir, "ca.key")
    try:
        return CertificateAuthority.load(ca_cert, ca_key)
    except FileNotFoundError as exc:
        print(f"orb certs: {exc.filename}: no such file; create a CA first with "
              f"`orb certs init-ca --dir {args.dir}`", file=sys.stderr)
    except (ValueError, OSError) as exc:
        print(f"orb certs: cannot load the CA: {exc}", file=sys.stderr)
    return None


def _issue_server(args: argparse.Namespace) -> int:
    from ._certs import LEAF_DAYS

    if not args.host and not args.ip:
        print("orb certs: issue-server needs at least one --host or --ip (the names clients "
              "dial)", file=sys.stderr)
        return 2
    cert_path, key_path = _paths(args, args.out or "server")
    if not _prepare(args, cert_path, key_path):
        return 1
    ca = _load_ca(args)
    if ca is None:
        return 1
    try:
        issued = ca.issue_server(args.host, args.ip, name=args.name, days=args.days or LEAF_DAYS)
    except ValueError as exc:
        print(f"orb certs: {exc}", file=sys.stderr)
        return 2
    issued.save(cert_path, key_path, overwrite=args.force)
    print(f"Issued a server certificate signed by {ca.name!r}")
    _describe(issued.cert)
    print(f"  certificate  {cert_path}")
    print(f"  private key  {key_path}   mode 0600")
    ca_path = args.ca or os.path.join(args.dir, "ca.pem")
    print("Use it with, for example:")
    print(f"  orb-naming --listen tls://0.0.0.0:7700 --tls-cert {cert_path} --tls-key {key_path} "
          f"--tls-ca {ca_path} --require-client-cert")
    return 0


def _issue_client(args: argparse.Namespace) -> int:
    from ._certs import LEAF_DAYS

    base = args.out or re.sub(r"[^A-Za-z0-9_.-]+", "_", args.name).strip("._") or "client"
    cert_path, key_path = _paths(args, base)
    if not _prepare(args, cert_path, key_path):
        return 1
    ca = _load_ca(args)
    if ca is None:
        return 1
    issued = ca.issue_client(args.name, days=args.days or LEAF_DAYS)
    issued.save(cert_path, key_path, overwrite=args.force)
    print(f"Issued a client certificate for {args.name!r} signed by {ca.name!r}")
    _describe(issued.cert)
    print(f"  certificate  {cert_path}")
    print(f"  private key  {key_path}   mode 0600")
    ca_path = args.ca or os.path.join(args.dir, "ca.pem")
    print(f"Servants see it as orb.current().peer.identity.common_name == {args.name!r}")
    print(f"Use it with: --tls-cert {cert_path} --tls-key {key_path} --tls-ca {ca_path}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from ._certs import load_certificate

    status = 0
    for path in args.files:
        try:
            cert = load_certificate(path)
        except (OSError, ValueError) as exc:
            print(f"orb certs: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(path)
        _describe(cert)
    return status


def _describe(cert: Any) -> None:
    from cryptography.hazmat.primitives import hashes

    from ._identity import _sans

    start, end = cert.not_valid_before_utc, cert.not_valid_after_utc
    now = datetime.datetime.now(datetime.UTC)
    state = "EXPIRED" if end < now else ("not yet valid" if start > now else
                                         f"{(end - now).days} days left")
    print(f"  subject      {cert.subject.rfc4514_string()}")
    print(f"  issuer       {cert.issuer.rfc4514_string()}")
    sans = _sans(cert)
    if sans:
        print(f"  names        {', '.join(sans)}")
    print(f"  valid        {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC ({state})")
    print(f"  sha256       {cert.fingerprint(hashes.SHA256()).hex()}")


if __name__ == "__main__":
    sys.exit(main())
