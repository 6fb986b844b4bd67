"""Collection in one process: brokers on loopback sockets, proxies dropped for real."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from dgc_support import Factory, Keeper, dgc, wait_until

import orb

LEASE = 0.5


@pytest.fixture
def owner() -> Iterator[orb.ORB]:
    with orb.ORB(listen="tcp://127.0.0.1:0", config=dgc(LEASE)) as broker:
        yield broker


@pytest.fixture
def factory(owner: orb.ORB) -> Factory:
    servant = Factory()
    owner.export(servant)
    return servant


def remote_factory(client: orb.ORB, owner: orb.ORB, factory: Factory) -> Any:
    return client.proxy(owner.ref(factory))


def implicit(broker: orb.ORB) -> int:
    return broker.stats()["objects"]["implicit"]


def counts(broker: orb.ORB) -> dict[str, int]:
    return broker.stats()["dgc"]["counts"]


def sweeps_after(broker: orb.ORB, seconds: float) -> None:
    """Wait until ``broker`` has swept for at least ``seconds`` more (by its sweep count)."""
    every = broker.config.dgc.sweep_every
    target = counts(broker)["sweeps"] + int(seconds / every) + 1
    wait_until(lambda: counts(broker)["sweeps"] >= target, timeout=seconds * 4 + 2,
               what=f"{seconds}s of sweeps")


def test_dropped_proxy_unexports_the_object_and_runs_its_hook_promptly() -> None:
    # A long lease: only the clean can free it in time.
    with orb.ORB(listen="tcp://127.0.0.1:0", lease=60) as owner, orb.ORB() as client:
        factory = Factory()
        thing = client.proxy(owner.ref(factory)).make("dropped")
        assert thing.ping() == "dropped"
        object_id = orb.ref(thing).object_id
        uri = str(orb.ref(thing))
        assert implicit(owner) == 1
        assert owner.stats()["dgc"]["holders"] == {object_id: [client.orb_id.hex()]}

        del thing
        gc.collect()
        assert factory.freed.wait_for("dropped", timeout=2.0)
        assert implicit(owner) == 0
        assert factory.freed.labels == ["dropped"]  # the hook ran once
        with pytest.raises(orb.ObjectNotFound, match="collected"):
            client.proxy(uri).ping()
        wait_until(lambda: client.stats()["dgc"]["leases"]["held"] == {}, what="lease dropped")


def test_object_held_across_several_lease_periods_stays_alive(
    owner: orb.ORB, factory: Factory
) -> None:
    with orb.ORB(lease=LEASE) as client:
        thing = remote_factory(client, owner, factory).make("held")
        start = counts(owner)["renew"]
        # four renewals at half the lease each: two whole lease periods, many sweeps
        wait_until(lambda: counts(owner)["renew"] >= start + 4, timeout=5, what="renewals")
        assert thing.ping() == "held"
        assert factory.freed.labels == []
        assert implicit(owner) == 1


def test_the_owners_lease_is_used_even_when_the_client_asks_for_more(
    owner: orb.ORB, factory: Factory
) -> None:
    with orb.ORB(lease=600) as client:  # asks for ten minutes, gets LEASE
        thing = remote_factory(client, owner, factory).make("capped")
        start = counts(owner)["renew"]
        wait_until(lambda: counts(owner)["renew"] >= start + 2, timeout=3, what="renewals")
        assert thing.ping() == "capped"


def test_a_reference_received_twice_is_one_proxy_and_one_lease(
    owner: orb.ORB, factory: Factory
) -> None:
    box = [factory.make("same")]

    @orb.expose
    class Giver:
        def give(self) -> Any:
            return box[0]

    giver_servant = Giver()
    with orb.ORB(lease=60) as client:
        giver = client.proxy(owner.ref(giver_servant))
        first, second = giver.give(), giver.give()
        assert first is second
        assert client.stats()["dgc"]["leases"]["held"] == {owner.orb_id.hex(): 1}
        assert counts(owner)["dirty"] == 1
        del first, second
        box.clear()
        gc.collect()
        wait_until(lambda: client.stats()["dgc"]["leases"]["held"] == {}, what="clean sent")
        # The second send left a transit hold that no dirty released (the client
        # already held a lease): the object goes when that hold expires.
        assert factory.freed.wait_for("same", timeout=LEASE * 2 + 2)


def test_disabled_dgc_keeps_implicit_exports() -> None:
    config = dgc(LEASE, enabled=False)
    with orb.ORB(listen="tcp://127.0.0.1:0", config=config) as owner, orb.ORB() as client:
        factory = Factory()
        thing = client.proxy(owner.ref(factory)).make("kept")
        uri = str(orb.ref(thing))
        assert owner.stats()["objects"] == {"total": 3, "pinned": 3, "implicit": 0}
        assert client.stats()["dgc"]["leases"]["held"] == {}
        del thing
        gc.collect()
        # proof that a clean would have had time: a round trip after the drop
        assert client.proxy(owner.ref(factory)).make("other").ping() == "other"
        assert client.proxy(uri).ping() == "kept"
        assert counts(owner)["dirty"] == 0 and counts(owner)["clean"] == 0
        assert factory.freed.labels == []


def test_pinned_object_survives_while_unpinned_ones_are_collected(
    owner: orb.ORB, factory: Factory
) -> None:
    with orb.ORB(lease=LEASE) as client:
        remote = remote_factory(client, owner, factory)
        pinned = remote.make_kept("pinned")
        owner.pin(factory.made["pinned"])
        loose = remote.make_kept("loose")
        pinned_uri, loose_uri = str(orb.ref(pinned)), str(orb.ref(loose))
        assert owner.stats()["objects"]["implicit"] == 1
        del pinned, loose
        gc.collect()
        assert factory.freed.wait_for("loose", timeout=2.0)
        sweeps_after(owner, LEASE * 2)
        assert client.proxy(pinned_uri).ping() == "pinned"
        with pytest.raises(orb.ObjectNotFound, match="collected"):
            client.proxy(loose_uri).ping()
        assert factory.freed.labels == ["loose"]


def test_a_proxy_made_from_a_uri_holds_no_lease(owner: orb.ORB, factory: Factory) -> None:
    with orb.ORB(lease=LEASE) as client, orb.ORB() as other:
        thing = remote_factory(client, owner, factory).make("by uri")
        by_uri = other.proxy(str(orb.ref(thing)))
        assert by_uri.ping() == "by uri"
        assert other.stats()["dgc"]["leases"]["held"] == {}
        del thing
        gc.collect()
        assert factory.freed.wait_for("by uri", timeout=2.0)
        with pytest.raises(orb.ObjectNotFound, match="collected"):
            by_uri.ping()


def test_returned_object_survives_a_slow_receiver_thanks_to_the_transit_hold() -> None:
    # The owner's transit hold (3 s) outlasts several leases (0.3 s) while the
    # receiver is slow to claim; only its claim then keeps the object.
    config = dgc(0.3, transit=3.0)
    with orb.ORB(listen="tcp://127.0.0.1:0", config=config) as owner, orb.ORB(lease=0.3) as client:
        factory = Factory()
        remote = client.proxy(owner.ref(factory))
        proceed = slow_claims(client)
        result: dict[str, Any] = {}
        caller = threading.Thread(target=lambda: result.update(thing=remote.make("in transit")))
        caller.start()
        wait_until(lambda: owner.stats()["dgc"]["pending_transits"] == 1, what="transit")
        sweeps_after(owner, 0.3 * 3)  # three leases: everything but the transit expired
        assert owner.stats()["objects"]["implicit"] == 1
        proceed.set()
        caller.join(5)
        thing = result["thing"]
        assert thing.ping() == "in transit"
        assert owner.stats()["dgc"]["pending_transits"] == 0
        assert list(owner.stats()["dgc"]["holders"].values()) == [[client.orb_id.hex()]]
        assert factory.freed.labels == []


def test_without_a_long_enough_transit_hold_a_slow_receiver_finds_it_collected() -> None:
    config = dgc(0.3, transit=0.3)
    with orb.ORB(listen="tcp://127.0.0.1:0", config=config) as owner, orb.ORB(lease=0.3) as client:
        factory = Factory()
        remote = client.proxy(owner.ref(factory))
        proceed = slow_claims(client)
        result: dict[str, Any] = {}
        caller = threading.Thread(target=lambda: result.update(thing=remote.make("too slow")))
        caller.start()
        assert factory.freed.wait_for("too slow", timeout=3.0)
        proceed.set()
        caller.join(5)
        with pytest.raises(orb.ObjectNotFound, match="collected"):
            result["thing"].ping()
        wait_until(lambda: client.stats()["dgc"]["leases"]["held"] == {}, what="missing dropped")


def slow_claims(client: orb.ORB) -> threading.Event:
    """Make ``client`` wait for the returned Event before it claims leases."""
    proceed = threading.Event()
    adopt = client._leases.adopt

    def slow_adopt(proxies: list) -> None:
        assert proceed.wait(10)
        adopt(proxies)

    client._leases.adopt = slow_adopt  # type: ignore[method-assign]
    return proceed


@pytest.fixture
def three() -> Iterator[tuple[orb.ORB, orb.ORB, orb.ORB, Factory, Keeper]]:
    """C owns Things (lease 0.5); A is a client; B keeps what it is given, one worker."""
    with (
        orb.ORB(listen="tcp://127.0.0.1:0", config=dgc(LEASE)) as c,
        orb.ORB(config=dgc(LEASE, transit=5.0)) as a,
        orb.ORB(listen="tcp://127.0.0.1:0", config=dgc(LEASE, max_workers=1)) as b,
    ):
        factory, keeper = Factory(), Keeper()
        c.export(factory)
        b.export(keeper)
        yield c, a, b, factory, keeper
        keeper.release.set()


def occupy(b: orb.ORB, keeper: Keeper) -> threading.Thread:
    """Keep B's only worker busy (from a broker of its own) until keeper.release is set."""
    blocker = orb.ORB()
    remote = blocker.proxy(b.ref(keeper))

    def block() -> None:
        with blocker:
            remote.block()

    thread = threading.Thread(target=block)
    thread.start()
    assert keeper.blocking.wait(5)
    return thread


def test_forwarded_reference_is_never_freed_while_the_sender_drops_its_own(three: Any) -> None:
    c, a, b, factory, keeper = three
    remote_keeper = a.proxy(b.ref(keeper))
    assert "keep" in dir(remote_keeper)  # fetch the interface while B's worker is free
    thing = a.proxy(c.ref(factory)).make("forwarded")
    # B's only worker is busy, so B decodes the reference but cannot claim it yet
    blocker = occupy(b, keeper)
    remote_keeper.keep(thing)  # one-way: returns once sent
    del thing
    gc.collect()
    assert a.stats()["dgc"]["leases"]["forwarded_in_transit"] == 1
    sweeps_after(c, LEASE * 3)  # long enough for any unrenewed claim to expire
    assert c.stats()["objects"]["implicit"] == 1
    keeper.release.set()
    blocker.join(5)
    assert keeper.got.wait(5)
    assert keeper.kept["thing"].ping() == "forwarded"
    holders = list(c.stats()["dgc"]["holders"].values())
    assert holders and b.orb_id.hex() in holders[0]
    assert factory.freed.labels == []


def test_forwarded_reference_survives_the_sender_closing_at_once(three: Any) -> None:
    c, a, b, factory, keeper = three
    remote_keeper = a.proxy(b.ref(keeper))
    assert "keep" in dir(remote_keeper)
    thing = a.proxy(c.ref(factory)).make("sender closed")
    blocker = occupy(b, keeper)
    remote_keeper.keep(thing)
    del thing
    a.close()  # cleans its leases, except the one in transit
    assert c.stats()["objects"]["implicit"] == 1
    keeper.release.set()
    blocker.join(5)
    assert keeper.got.wait(5)
    assert keeper.kept["thing"].ping() == "sender closed"


def test_forwarded_with_a_synchronous_call_then_dropped(three: Any) -> None:
    c, a, b, factory, keeper = three
    thing = a.proxy(c.ref(factory)).make("handed over")
    a.proxy(b.ref(keeper)).keep_now(thing)
    del thing
    gc.collect()
    sweeps_after(c, LEASE * 2)
    assert keeper.kept["thing"].ping() == "handed over"
    assert b.orb_id.hex() in next(iter(c.stats()["dgc"]["holders"].values()))
    assert factory.freed.labels == []


def test_stats_report_holders_transits_counts_and_leases(owner: orb.ORB, factory: Factory) -> None:
    with orb.ORB(lease=LEASE) as one, orb.ORB(lease=LEASE) as two:
        thing = remote_factory(one, owner, factory).make("shared")
        again = two.proxy(orb.ref(thing))  # by URI: no lease
        assert again.ping() == "shared"
        forwarded = remote_factory(two, owner, factory)
        del forwarded
        stats = owner.stats()
        object_id = orb.ref(thing).object_id
        assert stats["objects"] == {"total": 3, "pinned": 2, "implicit": 1}
        dgc_stats = stats["dgc"]
        assert dgc_stats["lease"] == LEASE
        assert dgc_stats["holders"] == {object_id: [one.orb_id.hex()]}
        assert dgc_stats["pending_transits"] == 0
        assert dgc_stats["counts"]["dirty"] == 1
        assert set(dgc_stats["counts"]) >= {"dirty", "renew", "clean", "collected"}
        assert one.stats()["dgc"]["leases"]["held"] == {owner.orb_id.hex(): 1}
        assert one.stats()["dgc"]["leases"]["counts"]["dirty"] == 1
        del thing
        gc.collect()
        assert factory.freed.wait_for("shared")
        wait_until(lambda: counts(owner)["collected"] == 1, what="collected count")
        assert counts(owner)["clean"] == 1
        assert owner.stats()["dgc"]["holders"] == {}


def test_a_reference_received_again_while_its_clean_is_in_flight_stays_alive(
    owner: orb.ORB, factory: Factory
) -> None:
    # Each round drops the proxy (a clean is queued) and receives the same
    # object again at once (a new proxy and a dirty): the late clean must
    # never cancel the newer dirty. (Between rounds nobody may hold it, so
    # it may be collected and exported again under a new id; that is fine.)
    same = factory.make("again")

    @orb.expose
    class Giver:
        def give(self) -> Any:
            return same

    giver_servant = Giver()
    with orb.ORB(lease=60) as client:
        giver = client.proxy(owner.ref(giver_servant))
        for _ in range(300):
            thing = giver.give()
            assert thing.ping() == "again"
            del thing  # proxies hold no cycles: it dies here, its clean is queued
        thing = giver.give()
        sweeps_after(owner, LEASE * 2)  # every transit hold has expired by now
        assert thing.ping() == "again"


def test_the_dgc_object_speaks_the_documented_calls(owner: orb.ORB, factory: Factory) -> None:
    with orb.ORB(lease=60) as client:
        thing = remote_factory(client, owner, factory).make("wire")
        object_id = orb.ref(thing).object_id
        dgc_uri = f"{owner.endpoints[0].replace('tcp://', 'orb://')}/orb.dgc"
        collector = client.proxy(dgc_uri)
        me = client.orb_id
        answer = orb.invoke(collector, "dirty", me, 10**6, [object_id, "no-such-id"], 600.0)
        assert answer == {"lease": LEASE, "missing": ["no-such-id"]}
        assert orb.invoke(collector, "dirty", me, 10**6 + 1, [], 0) == {"lease": LEASE,
                                                                       "missing": []}
        with pytest.raises(orb.AccessDenied):
            orb.invoke(collector, "clean", owner.orb_id, 10**6 + 2, [object_id])
        with pytest.raises(TypeError):
            orb.invoke(collector, "dirty", me, "7", [object_id], 1.0)
        with pytest.raises(TypeError):
            orb.invoke(collector, "clean", me, 10**6 + 2, [7])
        assert orb.invoke(collector, "clean", me, 10**6 + 3, [object_id]) is None
        assert factory.freed.wait_for("wire", timeout=2)
        with pytest.raises(orb.ObjectNotFound, match="collected"):
            thing.ping()


def test_forwarding_one_proxy_many_times_keeps_one_transit_entry(three: Any) -> None:
    c, a, b, factory, keeper = three
    thing = a.proxy(c.ref(factory)).make("often")
    remote_keeper = a.proxy(b.ref(keeper))
    for _ in range(200):
        remote_keeper.keep_now(thing)
    assert a.stats()["dgc"]["leases"]["forwarded_in_transit"] == 1
    assert keeper.kept["thing"].ping() == "often"
