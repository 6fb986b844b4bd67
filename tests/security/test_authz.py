"""Authorization: allow-lists and policies refuse calls with orb.AccessDenied, and log who."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from orb.security import allow

import orb

from .conftest import PKI


@orb.expose
class Vault:
    def __init__(self) -> None:
        self.wiped = threading.Event()

    def peek(self) -> str:
        return "gold"

    @allow("admin", "alice")
    def wipe(self) -> str:
        self.wiped.set()
        return "wiped"


@allow("*")
@orb.expose
class MembersOnly:
    def hello(self) -> str:
        return f"hello {orb.current().peer.identity.name}"

    @allow("bob")
    def bob_only(self) -> str:
        return "bob"


@pytest.fixture
def server(pki: PKI) -> Iterator[orb.ORB]:
    # Client certificates are optional here, so anonymous TLS clients get in
    # and meet the allow-lists.
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(require_client_cert=False)) as broker:
        yield broker


def _client(pki: PKI, who: str | None) -> orb.ORB:
    if who is None:
        from orb.security import TLSConfig

        return orb.ORB(tls=TLSConfig(ca=pki.ca))
    return orb.ORB(tls=pki.client_tls(getattr(pki, who)))


def test_a_method_allow_list_admits_only_those_named(pki: PKI, server: orb.ORB,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    vault = Vault()
    uri = str(server.export(vault))
    with _client(pki, "bob") as bob:
        proxy = bob.proxy(uri, timeout=5)
        assert proxy.peek() == "gold"  # no list on peek: anyone
        caplog.set_level(logging.WARNING, logger="orb.security")
        with pytest.raises(orb.AccessDenied, match=r"bob .* may not call .*Vault\.wipe") as info:
            proxy.wipe()
        assert isinstance(info.value, PermissionError)
        assert not vault.wiped.is_set()
    refusal = [r.getMessage() for r in caplog.records if r.name == "orb.security"]
    assert refusal and "access denied: bob (127.0.0.1:" in refusal[0]
    assert pki.bob.fingerprint[:16] in refusal[0] and "wipe" in refusal[0]
    with _client(pki, "alice") as alice:
        assert alice.proxy(uri, timeout=5).wipe() == "wiped"
    assert vault.wiped.is_set()


def test_a_class_allow_list_covers_every_method_and_a_method_list_replaces_it(
    pki: PKI, server: orb.ORB
) -> None:
    uri = str(server.export(MembersOnly()))
    with _client(pki, None) as anonymous:
        with pytest.raises(orb.AccessDenied, match="no client certificate identity"):
            anonymous.proxy(uri, timeout=5).hello()
    with _client(pki, "alice") as alice:
        proxy = alice.proxy(uri, timeout=5)
        assert proxy.hello() == "hello alice"
        with pytest.raises(orb.AccessDenied):
            proxy.bob_only()
    with _client(pki, "bob") as bob:
        assert bob.proxy(uri, timeout=5).bob_only() == "bob"


def test_an_allow_list_on_one_object_leaves_other_instances_open(pki: PKI, server: orb.ORB) -> None:
    @orb.expose
    class Counter:
        def get(self) -> int:
            return 1

    locked = allow("bob")(Counter())
    with _client(pki, "alice") as alice:
        assert alice.proxy(str(server.export(Counter())), timeout=5).get() == 1
        with pytest.raises(orb.AccessDenied):
            alice.proxy(str(server.export(locked)), timeout=5).get()


def test_allow_lists_match_fingerprints_and_sans(pki: PKI) -> None:
    @orb.expose
    class Pinned:
        @allow(pki.alice.fingerprint)
        def by_fingerprint(self) -> str:
            return "ok"

        @allow("DNS:localhost")
        def by_san(self) -> str:
            return "ok"

    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls()) as server, \
            orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls()) as other_server:
        uri = str(server.export(Pinned()))
        with _client(pki, "alice") as alice:
            assert alice.proxy(uri, timeout=5).by_fingerprint() == "ok"
            with pytest.raises(orb.AccessDenied):
                alice.proxy(uri, timeout=5).by_san()
        # A server broker dials with its own certificate (DNS:localhost).
        assert other_server.proxy(uri, timeout=5).by_san() == "ok"


def test_a_policy_sees_peer_object_and_method(pki: PKI) -> None:
    seen: list[tuple[Any, Any, str]] = []
    vault = Vault()

    def policy(peer: orb.Peer, obj: Any, method: str) -> bool:
        seen.append((peer.identity.name if peer.identity else None, obj, method))
        return not (method == "peek" and peer.identity is not None and peer.identity.name == "bob")

    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), authorize=policy) as server:
        uri = str(server.export(vault))
        with _client(pki, "bob") as bob:
            with pytest.raises(orb.AccessDenied, match="refused by the authorization policy"):
                bob.proxy(uri, timeout=5).peek()
        with _client(pki, "alice") as alice:
            assert alice.proxy(uri, timeout=5).peek() == "gold"
    assert ("bob", vault, "peek") in seen and ("alice", vault, "peek") in seen


def test_the_policy_runs_after_allow_lists_and_both_must_agree(pki: PKI) -> None:
    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(),
                 authorize=lambda peer, obj, method: method != "wipe") as server:
        vault = Vault()
        uri = str(server.export(vault))
        with _client(pki, "alice") as alice:  # on wipe's allow-list, but the policy says no
            with pytest.raises(orb.AccessDenied, match="policy"):
                alice.proxy(uri, timeout=5).wipe()
        assert not vault.wiped.is_set()


def test_a_failing_policy_refuses(pki: PKI, caplog: pytest.LogCaptureFixture) -> None:
    def broken(peer: orb.Peer, obj: Any, method: str) -> bool:
        raise RuntimeError("policy bug")

    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls(), authorize=broken) as server:
        uri = str(server.export(Vault()))
        with _client(pki, "alice") as alice, caplog.at_level(logging.ERROR, logger="orb.security"):
            with pytest.raises(orb.AccessDenied):
                alice.proxy(uri, timeout=5).peek()
    assert any("policy bug" in (r.exc_text or "") or r.exc_info for r in caplog.records)


def test_refusal_comes_before_any_servant_instance_is_made(pki: PKI) -> None:
    made: list[int] = []

    @allow("bob")
    @orb.expose(instance="per_call")
    class PerCall:
        def __init__(self) -> None:
            made.append(1)

        def work(self) -> int:
            return 1

    with orb.ORB(listen="tls://127.0.0.1:0", tls=pki.server_tls()) as server:
        uri = str(server.export(PerCall))
        with _client(pki, "alice") as alice, pytest.raises(orb.AccessDenied):
            alice.proxy(uri, timeout=5).work()
        assert made == []
        with _client(pki, "bob") as bob:
            assert bob.proxy(uri, timeout=5).work() == 1
        assert made == [1]


def test_plaintext_peers_have_no_identity_and_fail_allow_lists() -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as server, orb.ORB() as client:
        proxy = client.proxy(str(server.export(Vault())), timeout=5)
        assert proxy.peek() == "gold"
        with pytest.raises(orb.AccessDenied, match="unauthenticated peer"):
            proxy.wipe()


def test_describe_is_subject_to_the_object_allow_list(pki: PKI, server: orb.ORB) -> None:
    uri = str(server.export(MembersOnly()))
    with _client(pki, None) as anonymous, pytest.raises(orb.AccessDenied):
        orb.describe(anonymous.proxy(uri, timeout=5))


def test_allow_needs_names() -> None:
    with pytest.raises(ValueError):
        allow()
    with pytest.raises(TypeError, match="property"):
        allow("x")(property(lambda self: 1))
