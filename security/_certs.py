"""Certificates for orb deployments, made with ``cryptography``.

A small private CA signs server certificates (with the host names and IP
addresses clients dial as SANs) and client certificates (whose common name
is the client's identity). Keys are ECDSA P-256: small, fast, and accepted
everywhere TLS 1.2 is. Private keys are written unencrypted with mode 0600
(readable by their owner only); protect the CA key above all, it can mint
any identity.

``orb certs`` (:mod:`orb.security._cli`) is the command-line face of this
module; tests use it directly to make expired or foreign certificates.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
from collections.abc import Iterable

import attrs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Default validity, in days.
CA_DAYS = 3650
LEAF_DAYS = 365
# Issued certificates start a little in the past, so a peer whose clock is
# slightly behind does not see them as "not yet valid".
_BACKDATE = datetime.timedelta(minutes=5)

PrivateKey = ec.EllipticCurvePrivateKey


def new_key() -> PrivateKey:
    """A fresh ECDSA P-256 private key."""
    return ec.generate_private_key(ec.SECP256R1())


@attrs.frozen
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKey

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate, lowercase hex (as in Identity.fingerprint)."""
        return self.cert.fingerprint(hashes.SHA256()).hex()

    def save(self, cert_path: str | os.PathLike, key_path: str | os.PathLike, *,
             overwrite: bool = False) -> None:
        """Write the certificate (PEM, 0644) and key (PEM, 0600)."""
        write_file(cert_path, self.cert.public_bytes(serialization.Encoding.PEM), 0o644,
                   overwrite=overwrite)
        write_file(key_path, key_pem(self.key), 0o600, overwrite=overwrite)


@attrs.frozen
class CertificateAuthority:
    """A CA certificate with its key; issues server and client certificates."""

    cert: x509.Certificate
    key: PrivateKey

    @classmethod
    def create(cls, name: str = "orb CA", *, days: int = CA_DAYS,
               now: datetime.datetime | None = None) -> CertificateAuthority:
        """A new self-signed CA named ``name``, valid for ``days``."""
        key = new_key()
        subject = x509.Name([
            x509.NameAttribute(NameOID.COMMON_NAME, name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "orb"),
        ])
        start = _now(now) - _BACKDATE
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(start)
            .not_valid_after(start + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        return cls(cert, key)

    @classmethod
    def load(cls, cert_path: str | os.PathLike, key_path: str | os.PathLike) -> CertificateAuthority:
        """Load a CA written by :meth:`save` (or any PEM CA certificate and key)."""
        with open(cert_path, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        with open(key_path, "rb") as f:
            key = serialization.load_pem_private_key(f.read(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(  # noqa: TRY004 - a bad file, not a bad argument
                f"{key_path}: expected an EC private key (as `orb certs init-ca` makes)"
            )
        if cert.public_key() != key.public_key():
            raise ValueError(f"{key_path} is not the key of {cert_path}")
        return cls(cert, key)

    def save(self, cert_path: str | os.PathLike, key_path: str | os.PathLike, *,
             overwrite: bool = False) -> None:
        """Write the CA certificate (PEM, 0644) and key (PEM, 0600)."""
        Issued(self.cert, self.key).save(cert_path, key_path, overwrite=overwrite)

    @property
    def name(self) -> str:
        names = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else self.cert.subject.rfc4514_string()

    def issue_server(self, hosts: Iterable[str] = (), ips: Iterable[str] = (), *,
                     name: str | None = None, days: int = LEAF_DAYS,
                     now: datetime.datetime | None = None,
                     not_after: datetime.datetime | None = None) -> Issued:
        """A server certificate for the given DNS names and IP addresses.

        The names and addresses become SANs, which is what TLS clients
        verify. The certificate also allows client authentication, so a
        server broker can present it when it dials others.
        """
        hosts, addresses = list(hosts), [ipaddress.ip_address(ip) for ip in ips]
        if not hosts and not addresses:
            raise ValueError("a server certificate needs at least one --host or --ip")
        sans: list[x509.GeneralName] = [x509.DNSName(h) for h in hosts]
        sans += [x509.IPAddress(a) for a in addresses]
        common_name = name or (hosts[0] if hosts else str(addresses[0]))
        return self._issue(
            common_name, sans,
            [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH],
            days=days, now=now, not_after=not_after,
        )

    def issue_client(self, name: str, *, days: int = LEAF_DAYS,
                     now: datetime.datetime | None = None,
                     not_after: datetime.datetime | None = None) -> Issued:
        """A client certificate whose common name (the identity servers see) is ``name``."""
        if not name:
            raise ValueError("a client certificate needs a --name")
        return self._issue(name, [], [ExtendedKeyUsageOID.CLIENT_AUTH],
                           days=days, now=now, not_after=not_after)

    def _issue(self, common_name: str, sans: list[x509.GeneralName], usages: list,
               *, days: int, now: datetime.datetime | None,
               not_after: datetime.datetime | None) -> Issued:
        key = new_key()
        start = _now(now) - _BACKDATE
        end = not_after if not_after is not None else start + datetime.timedelta(days=days)
        if end <= start:
            start = end - datetime.timedelta(days=1)  # an already expired certificate
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=False, crl_sign=False,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)


def key_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_file(path: str | os.PathLike, data: bytes, mode: int, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` created with ``mode`` (never briefly more open).

    Refuses to replace an existing file unless ``overwrite``.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    fd = os.open(path, flags, mode)
    try:
        os.fchmod(fd, mode)  # the umask may have narrowed it, or the file pre-existed
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
    finally:
        if fd != -1:
            os.close(fd)


def load_certificate(path: str | os.PathLike) -> x509.Certificate:
    """The first certificate in a PEM file."""
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now if now is not None else datetime.datetime.now(datetime.UTC)


def _serial() -> int:
    return secrets.randbits(127) + 1
