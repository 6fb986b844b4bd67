"""Stores: the SQLite file keeps bindings across restarts of the service.

Restarts here are new NamingService instances on the same file, on a fake
clock; the daemon restarted as a process (and killed with SIGKILL) is in
test_naming_daemon.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import orb
from naming_support import FakeClock, Thing
from orb.naming import NAMING_OBJECT_ID, MemoryStore, NamingService, Record, SQLiteStore


def make_ref(object_id: str = "obj") -> orb.ObjectRef:
    return orb.ObjectRef(
        object_id=object_id, orb_id=bytes(range(16)),
        endpoints=("tcp://127.0.0.1:7001", "unix:///tmp/x.sock"), interface="mod.Calc",
    )


def test_sqlite_store_round_trips_records(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "naming.sqlite3"  # directories are made
    store = SQLiteStore(path)
    leased = Record(name="a/b", ref=make_ref(), metadata={"k": [1, "two"], "n": None},
                    owner="orb:ab", lease=2.5)
    permanent = Record(name="c", ref=make_ref("other"), owner="local", lease=None)
    store.put(leased)
    store.put(permanent)
    store.close()
    again = SQLiteStore(path)
    assert sorted(again.load(), key=lambda r: r.name) == [leased, permanent]
    again.delete("a/b")
    replaced = Record(name="c", ref=make_ref("third"), owner="local")
    again.put(replaced)
    again.close()
    assert SQLiteStore(path).load() == [replaced]
    assert again.description == f"sqlite:{path}"


def test_a_put_is_committed_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "naming.sqlite3"
    store = SQLiteStore(path)
    store.put(Record(name="durable", ref=make_ref(), owner="o", lease=1.0))
    # Another connection (another process would do the same) sees it at once.
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT name FROM bindings").fetchall() == [("durable",)]
    store.delete("durable")
    with sqlite3.connect(path) as other:
        assert other.execute("SELECT count(*) FROM bindings").fetchone() == (0,)
    store.close()


def test_memory_store_keeps_nothing() -> None:
    store = MemoryStore()
    store.put(Record(name="x", ref=make_ref()))
    assert store.load() == []
    assert store.description == "memory"


@pytest.fixture
def owner() -> Iterator[tuple[orb.ORB, Thing, orb.ObjectRef]]:
    with orb.ORB(listen="tcp://127.0.0.1:0", timeout=10) as broker:
        thing = Thing("owner")
        yield broker, thing, broker.export(thing)


def serve(service: NamingService) -> orb.ORB:
    broker = orb.ORB(listen="tcp://127.0.0.1:0")
    broker.export(service, object_id=NAMING_OBJECT_ID)
    return broker


def naming_of(client: orb.ORB, host: orb.ORB) -> orb.Proxy:
    return client.proxy(f"orb://{host.endpoints[0].split('://', 1)[1]}/{NAMING_OBJECT_ID}")


def test_restart_keeps_permanent_bindings_and_gives_leased_ones_a_fresh_lease(
    tmp_path: Path, owner: tuple[orb.ORB, Thing, orb.ObjectRef]
) -> None:
    broker, thing, _ = owner
    path = tmp_path / "naming.sqlite3"
    clock = FakeClock()
    first = NamingService(SQLiteStore(path), lease=1.0, clock=clock)
    with serve(first) as host:
        naming = naming_of(broker, host)
        naming.bind("admin/printer", thing, {"floor": 3}, None, True)
        naming.bind("svc/leased", thing, {"v": 1})
        naming.bind("svc/unbound", thing)
        naming.unbind("svc/unbound")
        clock.advance(0.9)  # most of the lease is used up before the restart
    first.close()

    clock.advance(100)  # however long the service was down
    second = NamingService(SQLiteStore(path), lease=1.0, clock=clock)
    with serve(second) as host:
        naming = naming_of(broker, host)
        entries = {e["name"]: e for e in naming.list("", recursive=True)}
        assert set(entries) == {"admin/printer", "svc/leased"}
        assert entries["admin/printer"]["permanent"] is True
        assert entries["admin/printer"]["metadata"] == {"floor": 3}
        assert entries["svc/leased"]["expires_in"] == pytest.approx(1.0)  # one fresh period
        assert entries["svc/leased"]["metadata"] == {"v": 1}
        assert naming.resolve("svc/leased") is thing  # the reference survived intact
        # The owner (same ORB id) still owns it, renews it and keeps it.
        clock.advance(0.9)
        assert naming.renew(["svc/leased"]) == {"lease": 1.0, "lost": []}
        clock.advance(0.9)
        assert naming.resolve("svc/leased") is thing
        # Not renewed: the leased binding goes, the permanent one stays.
        clock.advance(0.2)
        assert [e["name"] for e in naming.list("", recursive=True)] == ["admin/printer"]
        assert second.sweep() == ["svc/leased"]
        naming.rebind("admin/printer", thing, {"floor": 4}, None, True)
    second.close()

    third = NamingService(SQLiteStore(path), lease=1.0, clock=clock)
    assert [(r.name, r.metadata) for r in third.store.load()] == [("admin/printer", {"floor": 4})]
    third.close()


def test_ownership_survives_a_restart(tmp_path: Path, owner: tuple[orb.ORB, Thing, orb.ObjectRef]) -> None:
    broker, thing, _ = owner
    path = tmp_path / "naming.sqlite3"
    first = NamingService(SQLiteStore(path), lease=5.0)
    with serve(first) as host:
        naming_of(broker, host).bind("mine", thing)
    first.close()
    second = NamingService(SQLiteStore(path), lease=5.0)
    with serve(second) as host, orb.ORB(listen="tcp://127.0.0.1:0") as stranger:
        with pytest.raises(orb.AccessDenied):
            naming_of(stranger, host).unbind("mine")
        naming_of(broker, host).unbind("mine")
    second.close()
    assert SQLiteStore(path).load() == []
