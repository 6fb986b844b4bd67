"""Peer identity: who is on the other side of a TLS connection.

An :class:`Identity` is read from the certificate the peer presented during
the TLS handshake (after the handshake verified it against the trusted CA).
Servants see it as ``orb.current().peer.identity``; it is None on plaintext
connections and on TLS connections whose client sent no certificate.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress

import attrs


@attrs.frozen(kw_only=True)
class Identity:
    """A peer's verified certificate identity.

    * ``subject``: the certificate subject, RFC 4514 (``CN=alice,O=orb``).
    * ``common_name``: the subject's CN, or None.
    * ``sans``: subject alternative names, typed as OpenSSL prints them
      (``DNS:host.example``, ``IP:10.0.0.5``, ``email:a@b``, ``URI:...``).
    * ``fingerprint``: SHA-256 of the certificate (DER), lowercase hex.
    * ``issuer``: the issuer's subject, RFC 4514.
    * ``not_after``: end of the certificate's validity (UTC).
    """

    subject: str
    common_name: str | None
    sans: tuple[str, ...]
    fingerprint: str
    issuer: str = ""
    not_after: datetime.datetime | None = None

    @property
    def name(self) -> str:
        """A stable name for this identity: the common name, else the first SAN, else the fingerprint.

        The naming service uses it as the owner of bindings; unlike the
        fingerprint, it survives certificate renewal.
        """
        if self.common_name:
            return self.common_name
        if self.sans:
            return self.sans[0].partition(":")[2]
        return self.fingerprint

    def matches(self, who: str) -> bool:
        """True if ``who`` names this identity.

        ``who`` may be the common name, the subject, a SAN (with or without
        its ``DNS:``/``IP:`` prefix), the fingerprint (hex, colons allowed),
        or ``"*"`` for any verified identity.
        """
        if who == "*" or who == self.common_name or who == self.subject:
            return True
        if who in self.sans or any(san.partition(":")[2] == who for san in self.sans):
            return True
        return who.replace(":", "").lower() == self.fingerprint

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_der(cls, der: bytes) -> Identity:
        """The identity carried by a DER-encoded certificate."""
        from cryptography import x509
        from cryptography.x509.oid import NameOID

        cert = x509.load_der_x509_certificate(der)
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        common_name = str(names[0].value) if names else None
        return cls(
            subject=cert.subject.rfc4514_string(),
            common_name=common_name,
            sans=_sans(cert),
            fingerprint=hashlib.sha256(der).hexdigest(),
            issuer=cert.issuer.rfc4514_string(),
            not_after=cert.not_valid_after_utc,
        )


def _sans(cert: object) -> tuple[str, ...]:
    from cryptography import x509

    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        return ()
    sans = []
    for general_name in extension.value:
        if isinstance(general_name, x509.DNSName):
            sans.append(f"DNS:{general_name.value}")
        elif isinstance(general_name, x509.IPAddress):
            value = general_name.value
            if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
                sans.append(f"IP:{value}")
        elif isinstance(general_name, x509.RFC822Name):
            sans.append(f"email:{general_name.value}")
        elif isinstance(general_name, x509.UniformResourceIdentifier):
            sans.append(f"URI:{general_name.value}")
    return tuple(sans)
