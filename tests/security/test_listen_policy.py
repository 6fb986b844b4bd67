"""Plaintext listening is for loopback and Unix sockets only, unless the user says insecure.

Binding 0.0.0.0 here only proves what is refused or allowed; the one
connection made goes to 127.0.0.1.
"""

from __future__ import annotations

import pytest

import orb

from .conftest import PKI


@orb.expose
class Echo:
    def echo(self, value: object) -> object:
        return value


@pytest.mark.parametrize("endpoint", ["tcp://0.0.0.0:0", "tcp://[::]:0", "tcp://192.0.2.1:0"])
def test_plaintext_on_a_non_loopback_address_is_refused_with_directions(endpoint: str) -> None:
    with pytest.raises(ValueError) as info:
        orb.ORB(listen=endpoint)
    message = str(info.value)
    assert "refusing to listen in plaintext" in message
    assert "tls://" in message and "TLSConfig" in message and "orb certs init-ca" in message
    assert "insecure=True" in message


def test_the_refusal_leaves_nothing_listening() -> None:
    with pytest.raises(ValueError):
        orb.ORB(listen=["tcp://127.0.0.1:0", "tcp://0.0.0.0:0"])
    # The loopback listener made before the refusal was closed again: a new
    # broker can be made and no thread of the failed one is left accepting.
    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        assert broker.endpoints


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:0", "tcp://[::1]:0", "tcp://localhost:0"])
def test_plaintext_on_loopback_is_allowed(endpoint: str) -> None:
    with orb.ORB(listen=endpoint) as broker:
        assert broker.endpoints


def test_plaintext_on_unix_sockets_is_allowed(tmp_path: object) -> None:
    with orb.ORB(listen=f"unix://{tmp_path}/orb.sock") as broker:
        assert broker.endpoints[0].startswith("unix://")


def test_insecure_allows_plaintext_anywhere() -> None:
    with orb.ORB(listen="tcp://0.0.0.0:0", insecure=True) as server, orb.ORB() as client:
        port = server.endpoints[0].rsplit(":", 1)[1]
        ref = server.export(Echo())
        assert client.proxy(f"orb://127.0.0.1:{port}/{ref.object_id}", timeout=5).echo(7) == 7


def test_tls_may_listen_on_any_address(pki: PKI) -> None:
    with orb.ORB(listen="tls://0.0.0.0:0", tls=pki.server_tls()) as server, \
            orb.ORB(tls=pki.client_tls()) as client:
        port = server.endpoints[0].rsplit(":", 1)[1]
        ref = server.export(Echo())
        assert client.proxy(f"orbs://127.0.0.1:{port}/{ref.object_id}", timeout=5).echo(8) == 8


def test_the_naming_daemon_refuses_plaintext_on_all_interfaces(capfd: pytest.CaptureFixture) -> None:
    from orb.naming.__main__ import main

    assert main(["--listen", "tcp://0.0.0.0:0", "--memory", "--no-mdns"]) == 2
    assert "refusing to listen in plaintext" in capfd.readouterr().err
