"""LeaseTable: the owner's lease logic as a pure function of ``now`` (no sleeping)."""

from __future__ import annotations

from orb.gc import LeaseTable
from orb.gc._leases import MAX_TRANSITS

A = b"A" * 16
B = b"B" * 16
LEASE = 10.0


def table(transit: float = 5.0) -> LeaseTable:
    return LeaseTable(transit=transit)


def test_dirty_claims_until_the_lease_expires() -> None:
    leases = table()
    leases.dirty(A, 1, ["x"], LEASE, now=100.0)
    assert leases.holders("x", now=100.0) == [A]
    assert leases.sweep(now=109.9) == []
    assert leases.referenced("x", now=109.9)
    assert leases.sweep(now=110.0) == ["x"]
    assert not leases.referenced("x", now=110.0)
    assert leases.stats(now=110.0) == {"tracked": 0, "holders": 0, "transits": 0}


def test_renewal_pushes_the_expiry_back() -> None:
    leases = table()
    leases.dirty(A, 1, ["x"], LEASE, now=0.0)
    leases.dirty(A, 2, ["x"], LEASE, now=6.0)
    assert leases.sweep(now=12.0) == []
    assert leases.sweep(now=16.0) == ["x"]


def test_clean_drops_the_claim() -> None:
    leases = table()
    leases.dirty(A, 1, ["x", "y"], LEASE, now=0.0)
    assert leases.clean(A, 2, ["x"]) == ["x"]
    assert leases.idle("x")
    assert not leases.idle("y")
    assert leases.holders("x", now=1.0) == []


def test_a_late_clean_never_cancels_a_newer_dirty() -> None:
    leases = table()
    leases.dirty(A, 1, ["x"], LEASE, now=0.0)
    leases.dirty(A, 3, ["x"], LEASE, now=1.0)  # a new proxy after the old one died
    assert leases.clean(A, 2, ["x"]) == []  # the old proxy's clean, arriving late
    assert leases.holders("x", now=2.0) == [A]


def test_a_clean_with_the_same_seq_as_the_dirty_is_ignored() -> None:
    leases = table()
    leases.dirty(A, 4, ["x"], LEASE, now=0.0)
    assert leases.clean(A, 4, ["x"]) == []
    assert leases.holders("x", now=0.0) == [A]


def test_a_late_dirty_after_a_clean_is_ignored() -> None:
    leases = table()
    leases.dirty(A, 1, ["x"], LEASE, now=0.0)
    leases.dirty(B, 1, ["x"], LEASE, now=0.0)  # keeps the record alive
    assert leases.clean(A, 5, ["x"]) == ["x"]
    leases.dirty(A, 4, ["x"], LEASE, now=1.0)  # a renewal sent before the clean
    assert leases.holders("x", now=1.0) == [B]
    leases.dirty(A, 6, ["x"], LEASE, now=2.0)  # a genuinely new claim
    assert sorted(leases.holders("x", now=2.0)) == [A, B]


def test_sequence_numbers_are_per_client() -> None:
    leases = table()
    leases.dirty(A, 100, ["x"], LEASE, now=0.0)
    leases.dirty(B, 1, ["x"], LEASE, now=0.0)
    assert leases.clean(B, 2, ["x"]) == ["x"]
    assert leases.holders("x", now=0.0) == [A]


def test_clean_of_an_unknown_object_is_a_no_op() -> None:
    leases = table()
    assert leases.clean(A, 1, ["nope"]) == []
    assert leases.idle("nope")


def test_transit_holds_until_its_deadline() -> None:
    leases = table(transit=5.0)
    leases.hold_in_transit("x", now=0.0)
    assert leases.referenced("x", now=4.9)
    assert not leases.idle("x")
    assert leases.sweep(now=4.9) == []
    assert leases.stats(now=4.9)["transits"] == 1
    assert leases.sweep(now=5.0) == ["x"]


def test_the_receivers_first_dirty_releases_the_transit() -> None:
    leases = table(transit=5.0)
    leases.hold_in_transit("x", now=0.0)
    leases.dirty(A, 1, ["x"], LEASE, now=1.0)
    assert leases.stats(now=1.0)["transits"] == 0
    assert leases.clean(A, 2, ["x"]) == ["x"]
    assert leases.idle("x")  # nothing else holds it: collectable at once


def test_a_renewal_does_not_release_a_transit_meant_for_another_receiver() -> None:
    leases = table(transit=5.0)
    leases.dirty(A, 1, ["x"], LEASE, now=0.0)
    leases.hold_in_transit("x", now=1.0)  # sent to B
    leases.dirty(A, 2, ["x"], LEASE, now=2.0)  # A renews: not the receiver
    assert leases.clean(A, 3, ["x"]) == ["x"]
    assert not leases.idle("x")  # B's transit still holds it
    assert leases.referenced("x", now=5.9)
    leases.dirty(B, 1, ["x"], LEASE, now=3.0)  # B claims
    assert leases.stats(now=3.0)["transits"] == 0
    assert leases.holders("x", now=3.0) == [B]


def test_each_transit_is_released_by_one_receiver() -> None:
    leases = table(transit=5.0)
    leases.hold_in_transit("x", now=0.0)
    leases.hold_in_transit("x", now=0.0)
    leases.dirty(A, 1, ["x"], LEASE, now=1.0)
    assert leases.stats(now=1.0)["transits"] == 1
    leases.dirty(B, 1, ["x"], LEASE, now=1.0)
    assert leases.stats(now=1.0)["transits"] == 0


def test_transits_per_object_are_bounded() -> None:
    leases = table(transit=5.0)
    for i in range(MAX_TRANSITS * 3):
        leases.hold_in_transit("x", now=i / 100)
    assert leases.stats(now=1.0)["transits"] == MAX_TRANSITS
    # the newest deadline still holds the object
    assert leases.referenced("x", now=(MAX_TRANSITS * 3 - 1) / 100 + 4.9)


def test_sweep_expires_each_holder_separately() -> None:
    leases = table()
    leases.dirty(A, 1, ["x"], 5.0, now=0.0)
    leases.dirty(B, 1, ["x"], 20.0, now=0.0)
    assert leases.sweep(now=6.0) == []
    assert leases.holders("x", now=6.0) == [B]
    assert leases.sweep(now=20.0) == ["x"]


def test_a_clean_frees_nothing_that_only_expired_claims_still_hold() -> None:
    # Expiry belongs to the sweep (which allows for the owner's own stalls).
    leases = table()
    leases.dirty(A, 1, ["x"], 5.0, now=0.0)
    leases.dirty(B, 1, ["x"], 5.0, now=0.0)
    assert leases.clean(A, 2, ["x"]) == ["x"]
    assert not leases.idle("x")  # B's claim, expired at 5.0 but not yet swept
    assert leases.sweep(now=100.0) == ["x"]


def test_extend_pushes_every_expiry_back() -> None:
    leases = table(transit=5.0)
    leases.dirty(A, 1, ["x"], LEASE, now=0.0)
    leases.hold_in_transit("y", now=0.0)
    leases.extend(30.0)
    assert leases.sweep(now=34.0) == []
    assert sorted(leases.sweep(now=40.0)) == ["x", "y"]


def test_forget_drops_every_record() -> None:
    leases = table()
    leases.dirty(A, 1, ["x"], LEASE, now=0.0)
    leases.hold_in_transit("x", now=0.0)
    leases.forget("x")
    assert leases.stats(now=0.0) == {"tracked": 0, "holders": 0, "transits": 0}
    assert leases.sweep(now=100.0) == []


def test_many_objects_return_to_an_empty_table() -> None:
    leases = table()
    ids = [f"o{i}" for i in range(1000)]
    for i, object_id in enumerate(ids):
        leases.hold_in_transit(object_id, now=0.0)
        leases.dirty(A, i + 1, [object_id], LEASE, now=0.0)
    assert leases.stats(now=0.0) == {"tracked": 1000, "holders": 1000, "transits": 0}
    assert sorted(leases.clean(A, 5000, ids)) == sorted(ids)
    for object_id in ids:
        assert leases.idle(object_id)
        leases.forget(object_id)
    assert leases.stats(now=0.0)["tracked"] == 0
