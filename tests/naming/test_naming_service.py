"""The naming service's operations and errors, called through real brokers.

The service runs in this process on a fake clock (``naming_host``), exported
on a loopback broker; ``alice`` and ``bob`` are two other brokers, each with
its own ORB id (the owner of the names it binds), calling it over TCP. Lease
rules are checked by moving the clock, never by sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import orb
from naming_support import NamingHost, Party, Thing
from orb.naming import NAMING_OBJECT_ID
from orb.naming._service import MAX_LEASE, MIN_LEASE

# -- bind and resolve -------------------------------------------------------


def test_bind_then_resolve_from_another_broker(naming_host: NamingHost, alice: Party, bob: Party) -> None:
    assert alice.naming.bind("apps/calc", alice.thing) == 1.0  # the service's lease
    found = bob.naming.resolve("apps/calc")
    assert isinstance(found, orb.Proxy)
    assert found.who() == "alice"
    assert orb.ref(found).object_id == alice.ref.object_id


def test_resolving_your_own_binding_gives_back_the_object(alice: Party) -> None:
    alice.naming.bind("mine", alice.thing)
    assert alice.naming.resolve("mine") is alice.thing


def test_bind_accepts_a_reference_to_an_object_elsewhere(alice: Party, bob: Party) -> None:
    # An administrator binds an object of another ORB, from a URI.
    elsewhere = alice.broker.proxy(str(bob.ref))
    alice.naming.bind("admin/bobs-thing", elsewhere)
    assert bob.naming.resolve("admin/bobs-thing") is bob.thing


def test_resolve_unknown_name_raises_name_not_found(alice: Party) -> None:
    with pytest.raises(orb.NameNotFound, match="'no/such/name' is not bound") as caught:
        alice.naming.resolve("no/such/name")
    assert isinstance(caught.value, LookupError)


def test_bind_twice_raises_already_bound(alice: Party, bob: Party) -> None:
    alice.naming.bind("twice", alice.thing)
    with pytest.raises(orb.AlreadyBound, match="already bound.*use rebind"):
        alice.naming.bind("twice", alice.thing)
    with pytest.raises(orb.AlreadyBound):
        bob.naming.bind("twice", bob.thing)
    assert bob.naming.resolve("twice").who() == "alice"


def test_granted_lease_follows_the_request_within_bounds(alice: Party) -> None:
    assert alice.naming.bind("lease/asked", alice.thing, None, 0.5) == 0.5
    assert alice.naming.bind("lease/tiny", alice.thing, lease=0.001) == MIN_LEASE
    assert alice.naming.bind("lease/huge", alice.thing, lease=10**9) == MAX_LEASE
    assert alice.naming.bind("lease/default", alice.thing) == 1.0


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "may not be empty"),
        ("a//b", "empty part"),
        ("ctl\x01name", "control characters"),
        ("n" * 600, "limit is 512"),
    ],
)
def test_invalid_names_are_refused_by_every_operation(alice: Party, name: str, reason: str) -> None:
    operations: list[Callable[[], Any]] = [
        lambda: alice.naming.bind(name, alice.thing),
        lambda: alice.naming.rebind(name, alice.thing),
        lambda: alice.naming.unbind(name),
        lambda: alice.naming.resolve(name),
    ]
    for operation in operations:
        with pytest.raises(ValueError, match=reason):
            operation()


def test_bad_arguments_are_type_errors(alice: Party) -> None:
    with pytest.raises(TypeError, match="cannot bind"):
        alice.naming.bind("value", 42)
    with pytest.raises(TypeError, match="metadata"):
        alice.naming.bind("meta", alice.thing, {1: "x"})
    with pytest.raises(TypeError, match="metadata"):
        alice.naming.bind("meta", alice.thing, ["not", "a", "map"])
    with pytest.raises(TypeError, match="lease"):
        alice.naming.bind("lease", alice.thing, None, "long")
    with pytest.raises(TypeError):
        alice.naming.list(metadata="kind=room")
    with pytest.raises(TypeError):
        alice.naming.renew("not-a-list")


def test_an_object_of_a_client_only_orb_cannot_be_bound(naming_host: NamingHost) -> None:
    with orb.ORB() as client_only:
        naming = client_only.proxy(f"orb://{naming_host.address}/{NAMING_OBJECT_ID}")
        thing = Thing("nowhere")
        with pytest.raises(ValueError, match="client-only ORB"):
            naming.bind("unreachable", thing)
        # The broker refuses before asking the naming service.
        with pytest.raises(ValueError, match="client-only ORB"):
            client_only.export(thing, name="unreachable")
    assert naming_host.service.list("") == []


# -- rebind, unbind, ownership ------------------------------------------------------


def test_rebind_replaces_the_owners_binding(alice: Party, bob: Party) -> None:
    alice.naming.bind("svc", alice.thing, {"v": 1})
    other = Thing("alice-2")
    alice.broker.export(other)
    alice.naming.rebind("svc", other, {"v": 2})
    assert bob.naming.resolve("svc").who() == "alice-2"
    [entry] = bob.naming.list("", "svc")
    assert entry["metadata"] == {"v": 2}


def test_rebind_of_a_free_name_binds_it(alice: Party, bob: Party) -> None:
    alice.naming.rebind("fresh", alice.thing)
    assert bob.naming.resolve("fresh").who() == "alice"


def test_only_the_owner_may_rebind_or_unbind(alice: Party, bob: Party) -> None:
    alice.naming.bind("owned", alice.thing)
    with pytest.raises(orb.AccessDenied, match="held by another owner") as caught:
        bob.naming.rebind("owned", bob.thing)
    assert isinstance(caught.value, PermissionError)
    with pytest.raises(orb.AccessDenied):
        bob.naming.unbind("owned")
    assert bob.naming.resolve("owned").who() == "alice"
    alice.naming.unbind("owned")
    with pytest.raises(orb.NameNotFound):
        bob.naming.resolve("owned")


def test_unbind_unknown_name_raises_name_not_found(alice: Party) -> None:
    with pytest.raises(orb.NameNotFound):
        alice.naming.unbind("never/bound")


def test_after_unbind_anyone_may_bind(alice: Party, bob: Party) -> None:
    alice.naming.bind("passed/on", alice.thing)
    alice.naming.unbind("passed/on")
    bob.naming.bind("passed/on", bob.thing)
    assert alice.naming.resolve("passed/on").who() == "bob"


# -- leases (fake clock) ---------------------------------------------------------


def test_a_binding_expires_when_its_lease_runs_out(naming_host: NamingHost, alice: Party, bob: Party) -> None:
    clock = naming_host.clock
    alice.naming.bind("leased", alice.thing)
    clock.advance(0.99)
    assert bob.naming.resolve("leased").who() == "alice"
    assert bob.naming.info()["bindings"] == 1
    clock.advance(0.02)
    with pytest.raises(orb.NameNotFound):
        bob.naming.resolve("leased")
    assert bob.naming.list("") == []
    assert bob.naming.info()["bindings"] == 0


def test_after_expiry_anyone_may_bind_and_the_old_owner_has_lost_it(
    naming_host: NamingHost, alice: Party, bob: Party
) -> None:
    alice.naming.bind("expiring", alice.thing)
    naming_host.clock.advance(1.5)
    bob.naming.bind("expiring", bob.thing)  # no AlreadyBound
    assert alice.naming.resolve("expiring") is not alice.thing
    assert alice.naming.resolve("expiring").who() == "bob"
    assert alice.naming.renew(["expiring"]) == {"lease": 1.0, "lost": ["expiring"]}
    with pytest.raises(orb.AccessDenied):
        alice.naming.unbind("expiring")


def test_after_expiry_another_broker_may_rebind(naming_host: NamingHost, alice: Party, bob: Party) -> None:
    alice.naming.bind("taken/over", alice.thing)
    with pytest.raises(orb.AccessDenied):
        bob.naming.rebind("taken/over", bob.thing)
    naming_host.clock.advance(1.01)
    bob.naming.rebind("taken/over", bob.thing)
    assert alice.naming.resolve("taken/over").who() == "bob"


def test_unbinding_an_expired_name_says_it_is_not_bound(
    naming_host: NamingHost, alice: Party, bob: Party
) -> None:
    alice.naming.bind("gone", alice.thing)
    naming_host.clock.advance(2)
    with pytest.raises(orb.NameNotFound):
        bob.naming.unbind("gone")
    with pytest.raises(orb.NameNotFound):
        alice.naming.unbind("gone")


def test_renew_extends_the_lease_from_now(naming_host: NamingHost, alice: Party, bob: Party) -> None:
    clock = naming_host.clock
    alice.naming.bind("renewed", alice.thing)
    for _ in range(5):  # five lease periods in all
        clock.advance(0.8)
        assert alice.naming.renew(["renewed"]) == {"lease": 1.0, "lost": []}
    clock.advance(0.8)
    assert bob.naming.resolve("renewed").who() == "alice"
    clock.advance(0.21)
    with pytest.raises(orb.NameNotFound):
        bob.naming.resolve("renewed")


def test_renew_keeps_the_lease_length_the_binding_asked_for(naming_host: NamingHost, alice: Party) -> None:
    clock = naming_host.clock
    alice.naming.bind("short", alice.thing, lease=0.5)
    clock.advance(0.4)
    alice.naming.renew(["short"])
    clock.advance(0.45)
    assert alice.naming.resolve("short") is alice.thing
    clock.advance(0.1)
    with pytest.raises(orb.NameNotFound):
        alice.naming.resolve("short")


def test_renew_by_someone_else_extends_nothing(naming_host: NamingHost, alice: Party, bob: Party) -> None:
    clock = naming_host.clock
    alice.naming.bind("not-bobs", alice.thing)
    clock.advance(0.9)
    assert bob.naming.renew(["not-bobs", "unknown"]) == {"lease": 1.0, "lost": ["not-bobs", "unknown"]}
    clock.advance(0.2)
    with pytest.raises(orb.NameNotFound):
        bob.naming.resolve("not-bobs")


def test_a_lost_name_can_be_bound_again_by_its_old_owner(naming_host: NamingHost, alice: Party) -> None:
    alice.naming.bind("again", alice.thing)
    naming_host.clock.advance(5)
    assert alice.naming.renew(["again"])["lost"] == ["again"]
    alice.naming.bind("again", alice.thing)
    assert alice.naming.renew(["again"])["lost"] == []


def test_permanent_bindings_never_expire_and_stay_owned(
    naming_host: NamingHost, alice: Party, bob: Party
) -> None:
    assert alice.naming.bind("admin/printer", alice.thing, {"floor": 2}, None, True) is None
    naming_host.clock.advance(10**7)
    assert naming_host.service.sweep() == []
    assert bob.naming.resolve("admin/printer").who() == "alice"
    [entry] = bob.naming.list("admin/")
    assert entry["permanent"] is True and entry["expires_in"] is None
    with pytest.raises(orb.AccessDenied):
        bob.naming.rebind("admin/printer", bob.thing)
    with pytest.raises(orb.AccessDenied):
        bob.naming.unbind("admin/printer")
    alice.naming.unbind("admin/printer")
    with pytest.raises(orb.NameNotFound):
        bob.naming.resolve("admin/printer")


def test_rebind_can_turn_a_leased_binding_permanent(naming_host: NamingHost, alice: Party) -> None:
    alice.naming.bind("promoted", alice.thing)
    alice.naming.rebind("promoted", alice.thing, permanent=True)
    naming_host.clock.advance(100)
    assert alice.naming.resolve("promoted") is alice.thing


def test_sweep_drops_only_expired_bindings(naming_host: NamingHost, alice: Party) -> None:
    clock, service = naming_host.clock, naming_host.service
    alice.naming.bind("sweep/short", alice.thing, lease=0.5)
    alice.naming.bind("sweep/long", alice.thing, lease=5)
    alice.naming.bind("sweep/forever", alice.thing, permanent=True)
    assert service.sweep() == []
    clock.advance(1)
    assert service.sweep() == ["sweep/short"]
    assert service.sweep() == []
    assert [e["name"] for e in alice.naming.list("sweep/")] == ["sweep/forever", "sweep/long"]


def test_list_reports_time_left_on_each_lease(naming_host: NamingHost, alice: Party) -> None:
    alice.naming.bind("ticking", alice.thing)
    naming_host.clock.advance(0.25)
    [entry] = alice.naming.list("")
    assert entry["permanent"] is False
    assert entry["expires_in"] == pytest.approx(0.75)


# -- list: contexts, glob, metadata ---------------------------------------------


@pytest.fixture
def directory(alice: Party) -> Party:
    """A small tree of bindings with metadata."""
    for name, metadata in [
        ("apps/chat/lobby", {"kind": "room", "lang": "en"}),
        ("apps/chat/general", {"kind": "room", "lang": "fr"}),
        ("apps/chat/admin/console", {"kind": "tool"}),
        ("apps/mail", {"kind": "service", "lang": "en"}),
        ("tools/lobby", {}),
        ("top", {"kind": "room"}),
    ]:
        alice.naming.bind(name, alice.thing, metadata)
    return alice


def names(entries: list[dict]) -> list[str]:
    return [entry["name"] for entry in entries]


def test_listing_a_context_shows_its_children_and_sub_contexts(directory: Party) -> None:
    root = directory.naming.list()
    assert names(root) == ["apps/", "tools/", "top"]
    assert [e.get("context", False) for e in root] == [True, True, False]
    assert names(directory.naming.list("apps/")) == ["apps/chat/", "apps/mail"]
    chat = directory.naming.list("apps/chat/")
    assert names(chat) == ["apps/chat/admin/", "apps/chat/general", "apps/chat/lobby"]
    assert names(directory.naming.list("nothing/here/")) == []


def test_listed_bindings_carry_ref_and_metadata(directory: Party, bob: Party) -> None:
    [mail] = [e for e in bob.naming.list("apps/") if e["name"] == "apps/mail"]
    assert mail["metadata"] == {"kind": "service", "lang": "en"}
    assert mail["ref"].who() == "alice"
    assert mail["permanent"] is False


def test_a_prefix_without_slash_or_recursive_lists_every_binding_below(directory: Party) -> None:
    assert names(directory.naming.list("apps/chat")) == [
        "apps/chat/admin/console", "apps/chat/general", "apps/chat/lobby",
    ]
    assert names(directory.naming.list("apps/", recursive=True)) == [
        "apps/chat/admin/console", "apps/chat/general", "apps/chat/lobby", "apps/mail",
    ]
    assert len(directory.naming.list("", recursive=True)) == 6


@pytest.mark.parametrize(
    ("prefix", "pattern", "expected"),
    [
        ("", "*lobby", ["apps/chat/lobby", "tools/lobby"]),
        ("", "apps/*/lobby", ["apps/chat/lobby"]),
        ("", "apps/chat/?????", ["apps/chat/lobby"]),
        ("", "apps/chat/[gl]*", ["apps/chat/general", "apps/chat/lobby"]),
        ("apps/", "*lobby", ["apps/chat/lobby"]),
        ("", "no*match", []),
        ("", "top", ["top"]),
    ],
)
def test_glob_pattern(directory: Party, prefix: str, pattern: str, expected: list[str]) -> None:
    assert names(directory.naming.list(prefix, pattern)) == expected


def test_metadata_filter_matches_entries_with_all_given_values(directory: Party) -> None:
    list_ = directory.naming.list
    assert names(list_(metadata={"kind": "room"})) == ["apps/chat/general", "apps/chat/lobby", "top"]
    assert names(list_(metadata={"kind": "room", "lang": "en"})) == ["apps/chat/lobby"]
    assert names(list_(metadata={"lang": "en"})) == ["apps/chat/lobby", "apps/mail"]
    assert names(list_(metadata={"kind": "room", "lang": "de"})) == []
    assert names(list_(metadata={"missing": None})) == []
    assert names(list_("apps/", "*l*", {"lang": "en"})) == ["apps/chat/lobby", "apps/mail"]


def test_list_refuses_an_invalid_context(alice: Party) -> None:
    with pytest.raises(ValueError, match="empty part"):
        alice.naming.list("apps//")


def test_list_hides_expired_bindings(naming_host: NamingHost, alice: Party) -> None:
    alice.naming.bind("ctx/short", alice.thing, lease=0.5)
    alice.naming.bind("ctx/long", alice.thing, lease=2)
    naming_host.clock.advance(1)
    assert names(alice.naming.list("ctx/")) == ["ctx/long"]
    assert names(alice.naming.list("", "ctx/*")) == ["ctx/long"]
    naming_host.clock.advance(1.5)
    assert alice.naming.list("") == []


# -- ping and info -----------------------------------------------------------------


def test_ping_and_info(naming_host: NamingHost, alice: Party) -> None:
    assert alice.naming.ping() == "pong"
    alice.naming.bind("counted", alice.thing)
    info = alice.naming.info()
    assert info["service"] == "orb-naming"
    assert info["store"] == "memory"
    assert info["lease"] == 1.0
    assert info["bindings"] == 1
    naming_host.clock.advance(3)
    assert alice.naming.info()["uptime"] == pytest.approx(3)


def test_permanent_bindings_are_for_administrators() -> None:
    # Callers on the service's own host (loopback, Unix socket) are administrators;
    # others need a certificate identity listed in ``admins``.
    from orb.naming._service import _is_local_address

    assert _is_local_address("127.0.0.1:4242")
    assert _is_local_address("[::1]:4242")
    assert _is_local_address("/run/orb/naming.sock")
    assert not _is_local_address("10.1.2.3:4242")
    assert not _is_local_address("[2001:db8::1]:4242")
