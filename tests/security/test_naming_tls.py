"""A TLS naming daemon and a TLS server, found through mDNS (pinned to 127.0.0.1) and used end to end.

The daemon and the server are real processes; mDNS runs on loopback only.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator

import pytest
from orb.naming import browse, locate, naming_proxy

import orb

from ._procs import HERE, LineProcess, clean_env, python
from .conftest import PKI


@pytest.fixture
def domain() -> str:
    return f"sec-{secrets.token_hex(4)}"


@pytest.fixture
def daemon(pki: PKI, domain: str) -> Iterator[str]:
    """``orb-naming`` over mutual TLS, advertised on 127.0.0.1; yields its endpoint."""
    proc = LineProcess(python(
        "-m", "orb.naming", "--listen", "tls://127.0.0.1:0", "--memory",
        "--tls-cert", pki.server.cert, "--tls-key", pki.server.key, "--tls-ca", pki.ca,
        "--require-client-cert", "--mdns-interface", "127.0.0.1", "--domain", domain,
    ))
    try:
        lines = proc.read_until("ready")
        endpoint = next(line.rsplit(" ", 1)[1] for line in lines
                        if line.startswith("orb-naming listening on "))
        assert endpoint.startswith("tls://127.0.0.1:")
        yield endpoint
    finally:
        assert proc.stop() == 0


def test_tls_naming_and_server_are_found_by_mdns_and_used_end_to_end(
    pki: PKI, daemon: str, domain: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The server process finds the naming service by mDNS too, and binds over mTLS.
    env = clean_env(ORB_MDNS_INTERFACES="127.0.0.1", ORB_NAMING_DOMAIN=domain)
    server = LineProcess(python(os.path.join(HERE, "tls_peer.py"), "tls://127.0.0.1:0",
                                pki.server.cert, pki.server.key, pki.ca, "secure/echo"), env=env)
    try:
        (found,) = browse(domain=domain, interfaces=["127.0.0.1"], timeout=5)
        assert found.tls, "the TXT record says tls=1"
        assert locate(domain=domain, interfaces=["127.0.0.1"], timeout=5) == daemon
        info = json.loads(server.readline(15))
        assert info["uri"].startswith("orbs://127.0.0.1:")

        monkeypatch.setenv("ORB_MDNS_INTERFACES", "127.0.0.1")
        monkeypatch.setenv("ORB_NAMING_DOMAIN", domain)
        monkeypatch.delenv("ORB_NAMING", raising=False)
        with orb.ORB(tls=pki.client_tls()) as alice:
            naming = naming_proxy(broker=alice, timeout=5)
            echo = naming.resolve("secure/echo")
            assert echo.echo({"hello": (1, 2)}) == {"hello": (1, 2)}
            assert echo.caller() == "alice"
            # The binding belongs to the server's certificate identity, not bob's.
            with orb.ORB(tls=pki.client_tls(pki.bob)) as bob:
                with pytest.raises(orb.AccessDenied):
                    naming_proxy(broker=bob, timeout=5).unbind("secure/echo")
        # Without a client certificate the naming service is closed.
        with orb.ORB(tls=orb.security.TLSConfig(ca=pki.ca)) as anonymous:
            with pytest.raises(orb.security.TLSError, match="requires a client certificate"):
                naming_proxy(daemon, broker=anonymous, timeout=5).resolve("secure/echo")
    finally:
        server.stop()


def test_bindings_are_owned_by_certificate_identity_not_by_orb(
    pki: PKI, daemon: str
) -> None:
    @orb.expose
    class Thing:
        def ping(self) -> str:
            return "pong"

    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.client_tls(pki.server), naming=daemon) as first:
        first.export(Thing(), name="owned/thing")
        # export(name=) bound it through the daemon over mTLS. Another ORB with
        # the same certificate is the same owner: it may rebind and unbind.
        with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.client_tls(pki.server),
                     naming=daemon) as second:
            second.export(Thing(), name="owned/thing", rebind=True)
            service = naming_proxy(daemon, broker=second, timeout=5)
            assert service.resolve("owned/thing").ping() == "pong"
            with orb.ORB(tls=pki.client_tls(pki.alice)) as alice:
                with pytest.raises(orb.AccessDenied, match="another owner"):
                    naming_proxy(daemon, broker=alice, timeout=5).unbind("owned/thing")
            service.unbind("owned/thing")
            with pytest.raises(orb.NameNotFound):
                service.resolve("owned/thing")
