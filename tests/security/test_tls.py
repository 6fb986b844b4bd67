"""TLS and mutual TLS over real loopback handshakes: who gets in, who is refused, and why."""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from typing import Any

import pytest
from orb.security import TLSConfig, TLSError

import orb

from .conftest import PKI


@orb.expose
class Mirror:
    """Tells the caller what the server sees of it."""

    def whoami(self) -> dict[str, Any]:
        peer = orb.current().peer
        identity = peer.identity
        return {
            "address": peer.address,
            "orb_id": peer.orb_id,
            "common_name": identity.common_name if identity else None,
            "subject": identity.subject if identity else None,
            "sans": list(identity.sans) if identity else None,
            "fingerprint": identity.fingerprint if identity else None,
            "name": identity.name if identity else None,
        }

    def echo(self, value: Any) -> Any:
        return value

    def call_back(self, listener: Any) -> Any:
        return listener.whoami()


def test_mutual_tls_call_succeeds_and_the_servant_sees_the_client_identity(
    pki: PKI, tls_server: orb.ORB, alice: orb.ORB
) -> None:
    ref = tls_server.export(Mirror())
    assert str(ref).startswith("orbs://127.0.0.1:")
    seen = alice.proxy(str(ref), timeout=5).whoami()
    assert seen["common_name"] == "alice"
    assert seen["name"] == "alice"
    assert seen["subject"] == "CN=alice"
    assert seen["fingerprint"] == pki.alice.fingerprint
    assert seen["orb_id"] == alice.orb_id
    assert seen["address"].startswith("127.0.0.1:")


def test_the_client_sees_the_server_identity_in_callbacks(
    pki: PKI, tls_server: orb.ORB, alice: orb.ORB
) -> None:
    # The server calls back over the connection alice opened; alice's servant
    # sees the server's verified certificate.
    server_mirror = alice.proxy(str(tls_server.export(Mirror())), timeout=5)
    seen = server_mirror.call_back(Mirror())
    assert seen["common_name"] == "localhost"
    assert "DNS:localhost" in seen["sans"] and "IP:127.0.0.1" in seen["sans"]
    assert seen["fingerprint"] == pki.server.fingerprint


def test_many_threads_share_one_tls_connection(tls_server: orb.ORB, alice: orb.ORB) -> None:
    mirror = alice.proxy(str(tls_server.export(Mirror())), timeout=10)
    blob = bytes(range(256)) * 4096  # 1 MiB: several TLS records per message, both ways

    def work(n: int) -> None:
        for i in range(60):
            value = (n, i, blob if i % 20 == 0 else "x" * i)
            assert mirror.echo(value) == value

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        for future in [pool.submit(work, n) for n in range(8)]:
            future.result(timeout=60)
    assert len(alice.stats()["connections"]) == 1


def test_large_payloads_cross_tls_intact(tls_server: orb.ORB, alice: orb.ORB) -> None:
    mirror = alice.proxy(str(tls_server.export(Mirror())), timeout=20)
    payload = bytes(range(256)) * (24 * 1024 // 256 * 1024)  # 24 MiB
    assert mirror.echo(payload) == payload


def test_a_client_without_a_certificate_is_refused(
    pki: PKI, tls_server: orb.ORB, caplog: pytest.LogCaptureFixture
) -> None:
    uri = str(tls_server.export(Mirror()))
    caplog.set_level(logging.INFO, logger="orb")
    with orb.ORB(tls=TLSConfig(ca=pki.ca)) as anonymous:
        with pytest.raises(TLSError, match="requires a client certificate"):
            anonymous.proxy(uri, timeout=5).whoami()
    assert any("sent no certificate" in r.getMessage() for r in caplog.records)


def test_a_client_certificate_from_another_ca_is_refused(pki: PKI, tls_server: orb.ORB) -> None:
    uri = str(tls_server.export(Mirror()))
    with orb.ORB(tls=pki.client_tls(pki.foreign_client)) as mallory:
        with pytest.raises(TLSError, match="does not trust the CA"):
            mallory.proxy(uri, timeout=5).whoami()


def test_an_expired_client_certificate_is_refused(pki: PKI, tls_server: orb.ORB) -> None:
    uri = str(tls_server.export(Mirror()))
    with orb.ORB(tls=pki.client_tls(pki.expired_client)) as old:
        with pytest.raises(TLSError, match="expired"):
            old.proxy(uri, timeout=5).whoami()


def test_a_server_whose_certificate_does_not_name_the_host_is_refused(pki: PKI, alice: orb.ORB) -> None:
    tls = TLSConfig(cert=pki.wrong_host_server.cert, key=pki.wrong_host_server.key, ca=pki.ca)
    with orb.ORB(listen="tls://127.0.0.1:0", tls=tls) as server:
        uri = str(server.export(Mirror()))
        with pytest.raises(TLSError, match=r"server at 127\.0\.0\.1:\d+ was refused.*IP address"):
            alice.proxy(uri, timeout=5).whoami()
        # Naming the host the certificate lists makes it acceptable.
        with orb.ORB(tls=pki.client_tls(server_hostname="other.example")) as client:
            assert client.proxy(uri, timeout=5).whoami()["common_name"] == "alice"


def test_a_server_with_an_expired_certificate_is_refused(pki: PKI, alice: orb.ORB) -> None:
    tls = TLSConfig(cert=pki.expired_server.cert, key=pki.expired_server.key, ca=pki.ca)
    with orb.ORB(listen="tls://127.0.0.1:0", tls=tls) as server:
        with pytest.raises(TLSError, match="certificate has expired"):
            alice.proxy(str(server.export(Mirror())), timeout=5).whoami()


def test_a_server_signed_by_an_untrusted_ca_is_refused(pki: PKI, tls_server: orb.ORB) -> None:
    uri = str(tls_server.export(Mirror()))
    with orb.ORB(tls=TLSConfig(cert=pki.foreign_client.cert, key=pki.foreign_client.key,
                               ca=pki.other_ca)) as client:
        with pytest.raises(TLSError, match="not trusted here; pass that CA"):
            client.proxy(uri, timeout=5).whoami()


def test_without_required_client_certificates_identity_is_optional(pki: PKI) -> None:
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(require_client_cert=False)) as server:
        uri = str(server.export(Mirror()))
        with orb.ORB(tls=TLSConfig(ca=pki.ca)) as anonymous:
            assert anonymous.proxy(uri, timeout=5).whoami()["common_name"] is None
        with orb.ORB(tls=pki.client_tls(pki.bob)) as bob:
            assert bob.proxy(uri, timeout=5).whoami()["common_name"] == "bob"


def test_a_tls_reference_is_never_dialled_in_plaintext(pki: PKI, alice: orb.ORB) -> None:
    # A plaintext server on a port named by an orbs:// URI: the client insists
    # on TLS, and says what is wrong, rather than falling back.
    with orb.ORB(listen="tcp://127.0.0.1:0") as plain:
        ref = plain.export(Mirror())
        port = plain.endpoints[0].rsplit(":", 1)[1]
        with pytest.raises(TLSError, match="does not speak TLS"):
            alice.proxy(f"orbs://127.0.0.1:{port}/{ref.object_id}", timeout=5).whoami()
        # The plaintext server shrugs off the TLS hello and keeps serving.
        with orb.ORB() as client:
            assert client.proxy(str(ref), timeout=5).echo(1) == 1


def test_a_plaintext_client_cannot_talk_to_a_tls_listener(tls_server: orb.ORB, alice: orb.ORB) -> None:
    ref = tls_server.export(Mirror())
    port = tls_server.endpoints[0].rsplit(":", 1)[1]
    with orb.ORB() as plain, pytest.raises(orb.OrbError):
        plain.proxy(f"orb://127.0.0.1:{port}/{ref.object_id}", timeout=5).echo(1)
    assert alice.proxy(str(ref), timeout=5).echo(2) == 2


def test_an_existing_plaintext_channel_is_not_reused_for_a_tls_reference(pki: PKI) -> None:
    # The same server ORB listens on tcp and tls; a reference that names only
    # its tls endpoint must not ride the plaintext connection already open.
    with orb.ORB(listen=["tcp://127.0.0.1:0", "tls://127.0.0.1:0"], tls=pki.server_tls()) as server, \
            orb.ORB(tls=pki.client_tls()) as client:
        mirror = Mirror()
        server.export(mirror)
        plain_ref = server.ref(mirror)
        plain = client.proxy(orb.ObjectRef(object_id=plain_ref.object_id, orb_id=server.orb_id,
                                           endpoints=(server.endpoints[0],)), timeout=5)
        assert plain.whoami()["common_name"] is None
        secure = client.proxy(orb.ObjectRef(object_id=plain_ref.object_id, orb_id=server.orb_id,
                                            endpoints=(server.endpoints[1],)), timeout=5)
        assert secure.whoami()["common_name"] == "alice"


def test_listening_on_tls_needs_a_certificate() -> None:
    with pytest.raises(ValueError, match="orb certs"):
        orb.ORB(listen="tls://127.0.0.1:0")
    with pytest.raises(ValueError, match="require_client_cert needs ca"):
        TLSConfig(cert="x.pem", require_client_cert=True)


def test_unreadable_certificate_files_are_reported_by_name(tmp_path: Any, pki: PKI) -> None:
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ValueError, match="missing.pem"):
        orb.ORB(listen="tls://127.0.0.1:0", tls=TLSConfig(cert=missing, key=pki.server.key))
    with pytest.raises(ValueError, match="is the key the one of this certificate"):
        orb.ORB(listen="tls://127.0.0.1:0", tls=TLSConfig(cert=pki.server.cert, key=pki.alice.key))


def test_tls_connections_are_tls12_or_newer(tls_server: orb.ORB, alice: orb.ORB) -> None:
    alice.proxy(str(tls_server.export(Mirror())), timeout=5).echo(0)
    (channel,) = list(alice._channels)
    assert channel.transport.version in ("TLSv1.2", "TLSv1.3")
    assert channel.peer.identity.common_name == "localhost"


def test_tls12_clients_are_verified_too(pki: PKI, tls_server: orb.ORB) -> None:
    import ssl

    from orb.security import client_context

    uri = str(tls_server.export(Mirror()))

    def tls12_client(config: TLSConfig) -> orb.ORB:
        broker = orb.ORB(tls=config)
        context = client_context(config)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        broker._tls_contexts()._client = context
        return broker

    # TLS 1.2 refuses a missing client certificate inside the handshake itself.
    with tls12_client(TLSConfig(ca=pki.ca)) as anonymous:
        with pytest.raises(TLSError, match="client certificate"):
            anonymous.proxy(uri, timeout=5).whoami()
    with tls12_client(pki.client_tls()) as client:
        assert client.proxy(uri, timeout=5).whoami()["common_name"] == "alice"
        (channel,) = list(client._channels)
        assert channel.transport.version == "TLSv1.2"


def test_closing_the_server_fails_calls_in_flight_cleanly(tls_server: orb.ORB, alice: orb.ORB) -> None:
    started, release = threading.Event(), threading.Event()

    @orb.expose
    class Slow:
        def wait(self) -> None:
            started.set()
            release.wait(5)

    slow = alice.proxy(str(tls_server.export(Slow())), timeout=10)
    errors: list[BaseException] = []
    thread = threading.Thread(target=lambda: _capture(errors, slow.wait))
    thread.start()
    assert started.wait(5)
    closing = threading.Thread(target=tls_server.close)  # waits for the running servant
    closing.start()
    thread.join(10)  # the caller hears of it while the servant still runs
    assert errors and isinstance(errors[0], orb.CommunicationError)
    release.set()
    closing.join(10)


def _capture(errors: list[BaseException], call: Any) -> None:
    try:
        call()
    except BaseException as exc:  # noqa: BLE001 - the test inspects it
        errors.append(exc)


def test_a_peer_claiming_another_orbs_id_does_not_receive_its_calls(pki: PKI) -> None:
    # ORB ids are self-declared in the Hello. A peer that connects first and
    # claims the id of another TLS server must not get the calls meant for it.
    @orb.expose
    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def who(self) -> str:
            return self.name

    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls()) as real, \
            orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls()) as server, \
            orb.ORB(tls=pki.client_tls(pki.bob)) as impostor:
        real.export(Named("real"), object_id="the-object")
        impostor.orb_id = real.orb_id  # the lie, told in the impostor's Hello
        impostor.export(Named("impostor"), object_id="the-object")
        assert impostor.proxy(str(server.export(Mirror())), timeout=5).echo(1) == 1
        assert server._channels.by_orb[real.orb_id].peer.identity.common_name == "bob"
        ref = orb.ObjectRef(object_id="the-object", orb_id=real.orb_id, endpoints=real.endpoints)
        assert server.proxy(ref, timeout=5).who() == "real"


def test_an_aio_broker_reads_its_tls_connection_on_its_event_loop(
    pki: PKI, tls_server: orb.ORB
) -> None:
    import asyncio

    import orb.aio

    uri = str(tls_server.export(Mirror()))
    blob = bytes(range(256)) * 4096  # 1 MiB: many TLS records, more than one read holds

    async def main() -> list[str]:
        before = {t.name for t in threading.enumerate()}
        async with orb.aio.ORB(tls=pki.client_tls()) as client:
            mirror = await orb.aio.proxy(uri, broker=client, timeout=10)
            assert (await mirror.whoami())["common_name"] == "alice"
            values = [(i, blob if i % 10 == 0 else "x" * i) for i in range(60)]
            assert await asyncio.gather(*[mirror.echo(v) for v in values]) == values
            assert await mirror.echo(blob * 8) == blob * 8
            return [t.name for t in threading.enumerate() if t.name not in before]

    started = asyncio.run(asyncio.wait_for(main(), 30))
    # The server's side has reader threads (named after the client's address);
    # the client's side, named after the server's, is read by the loop.
    server_address = tls_server.endpoints[0].split("://")[1]
    assert any(name.startswith("orb-reader") for name in started)
    assert f"orb-reader {server_address}" not in started


def test_a_peer_claiming_another_clients_orb_id_cannot_release_its_leases(pki: PKI) -> None:
    # The distributed GC holds a TLS client's leases under its ORB id and its
    # certificate: another certificate claiming the same id cleans only its own.
    @orb.expose
    class Factory:
        def make(self) -> Mirror:
            return Mirror()

    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), lease=60) as owner, \
            orb.ORB(tls=pki.client_tls(pki.alice)) as alice, \
            orb.ORB(tls=pki.client_tls(pki.bob)) as impostor:
        made = alice.proxy(str(owner.export(Factory())), timeout=5).make()
        object_id = orb.ref(made).object_id
        assert owner._collector.holders(object_id)  # alice's lease
        impostor.orb_id = alice.orb_id  # the lie, told in the impostor's Hello
        dgc = orb.ObjectRef(object_id="orb.dgc", orb_id=owner.orb_id, endpoints=owner.endpoints)
        collector = impostor.proxy(dgc, timeout=5)
        assert orb.invoke(collector, "clean", alice.orb_id, 10**9, [object_id]) is None
        assert owner._collector.holders(object_id)  # still held: the clean was the impostor's
        assert made.echo("alive") == "alive"
        stats = owner.stats()["dgc"]["holders"]
        assert stats[object_id] == [alice.orb_id.hex()]
