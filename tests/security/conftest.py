"""A throwaway PKI for the security tests: one CA, certificates for every case."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator

import attrs
import pytest
from orb.security import CertificateAuthority, TLSConfig

import orb


@attrs.frozen
class Pair:
    cert: str
    key: str
    fingerprint: str


@attrs.frozen
class PKI:
    """Paths of the test certificates (all PEM) and configs built from them."""

    ca: str
    other_ca: str
    server: Pair  # localhost, 127.0.0.1, ::1
    alice: Pair
    bob: Pair
    expired_client: Pair
    foreign_client: Pair  # signed by other_ca
    wrong_host_server: Pair  # only names other.example
    expired_server: Pair

    def server_tls(self, *, require_client_cert: bool = True, **extra: object) -> TLSConfig:
        return TLSConfig(cert=self.server.cert, key=self.server.key, ca=self.ca,
                         require_client_cert=require_client_cert, **extra)

    def client_tls(self, who: Pair | None = None, **extra: object) -> TLSConfig:
        who = self.alice if who is None else who
        return TLSConfig(cert=who.cert, key=who.key, ca=self.ca, **extra)


def _save(issued: object, directory: str, name: str) -> Pair:
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    issued.save(cert, key)  # type: ignore[attr-defined]
    return Pair(cert, key, issued.fingerprint)  # type: ignore[attr-defined]


@pytest.fixture(autouse=True)
def _discovery_on_loopback_only(monkeypatch: pytest.MonkeyPatch) -> None:
    # Any naming discovery a test triggers stays on 127.0.0.1, never the LAN.
    monkeypatch.setenv("ORB_MDNS_INTERFACES", "127.0.0.1")
    monkeypatch.delenv("ORB_NAMING", raising=False)
    for name in ("ORB_TLS_CERT", "ORB_TLS_KEY", "ORB_TLS_CA", "ORB_TLS_REQUIRE_CLIENT_CERT"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    directory = str(tmp_path_factory.mktemp("pki"))
    ca = CertificateAuthority.create("test CA")
    other = CertificateAuthority.create("another CA")
    ca.save(os.path.join(directory, "ca.pem"), os.path.join(directory, "ca.key"))
    other.save(os.path.join(directory, "other-ca.pem"), os.path.join(directory, "other-ca.key"))
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=2)
    return PKI(
        ca=os.path.join(directory, "ca.pem"),
        other_ca=os.path.join(directory, "other-ca.pem"),
        server=_save(ca.issue_server(["localhost"], ["127.0.0.1", "::1"]), directory, "server"),
        alice=_save(ca.issue_client("alice"), directory, "alice"),
        bob=_save(ca.issue_client("bob"), directory, "bob"),
        expired_client=_save(ca.issue_client("old", not_after=past), directory, "old"),
        foreign_client=_save(other.issue_client("mallory"), directory, "mallory"),
        wrong_host_server=_save(ca.issue_server(["other.example"]), directory, "wrong-host"),
        expired_server=_save(ca.issue_server(["localhost"], ["127.0.0.1"], not_after=past),
                             directory, "expired-server"),
    )


@pytest.fixture
def tls_server(pki: PKI) -> Iterator[orb.ORB]:
    """A broker listening with mutual TLS on a free loopback port."""
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls()) as broker:
        yield broker


@pytest.fixture
def alice(pki: PKI) -> Iterator[orb.ORB]:
    """A client-only broker presenting alice's certificate."""
    with orb.ORB(tls=pki.client_tls()) as broker:
        yield broker
