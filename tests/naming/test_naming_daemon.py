"""The ``orb-naming`` daemon as a real process, with real binding servers.

Leases of crashed (SIGKILLed) servers run out, NameKeeper renews, export
and unexport bind and unbind, a restarted daemon keeps its SQLite store
(also after SIGKILL), concurrent binds, where brokers look for the naming
service (argument, ORB(naming=), ORB_NAMING), and the command line itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import orb
from naming_support import (
    Binder,
    Daemon,
    Thing,
    Watcher,
    clean_env,
    daemon_argv,
    unique_domain,
    wait_until,
)
from orb.naming import NAMING_ENV, SQLiteStore, browse, find_naming
from orb.naming.__main__ import advertised_endpoint, mdns_interfaces
from orb.naming.__main__ import main as daemon_main

StartDaemon = Callable[..., Daemon]
StartBinder = Callable[..., Binder]


@pytest.fixture
def broker() -> Iterator[orb.ORB]:
    """This test process: a broker listening on loopback (it can export)."""
    with orb.ORB(listen="tcp://127.0.0.1:0", timeout=10) as broker:
        yield broker


def naming_at(broker: orb.ORB, daemon: Daemon) -> orb.Proxy:
    return broker.proxy(daemon.uri, timeout=10)


def is_bound(naming: orb.Proxy, name: str) -> bool:
    try:
        naming.resolve(name)
    except orb.NameNotFound:
        return False
    return True


# -- the command line ----------------------------------------------------------------


def test_help_lists_every_option() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "orb.naming", "--help"], capture_output=True, text=True,
        timeout=30, env=clean_env(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: orb-naming")
    for option in ("--listen", "--store", "--memory", "--lease", "--domain", "--no-mdns",
                   "--mdns-interface", "--insecure", "--log-level"):
        assert option in result.stdout


def test_installed_console_script_runs() -> None:
    script = Path(sys.executable).with_name("orb-naming")
    if not script.exists():
        pytest.skip(f"no console script next to {sys.executable}")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "usage: orb-naming" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--memory", "--store", "x.sqlite3"], "not allowed with argument"),
        (["--memory", "--lease", "0"], "lease must be between 0.2 and 3600 seconds"),
        (["--memory", "--lease", "soon"], "not a number of seconds"),
        (["--memory", "--log-level", "LOUD"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        daemon_main(["--listen", "tcp://127.0.0.1:0", "--no-mdns", *args])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("content", [None, b"this is not a database, " * 100], ids=["directory", "garbage"])
def test_an_unusable_store_exits_2(
    tmp_path: Path, content: bytes | None, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "store"
    if content is None:
        store.mkdir()
    else:
        store.write_bytes(content)
    assert daemon_main(["--listen", "tcp://127.0.0.1:0", "--no-mdns", "--store", str(store)]) == 2
    err = capsys.readouterr().err
    assert f"orb-naming: cannot open the store: cannot use {store} as an SQLite store" in err


def test_startup_says_where_it_listens_and_what_it_keeps(start_daemon: StartDaemon, tmp_path: Path) -> None:
    # No store option: the SQLite file in the user's state directory.
    daemon = start_daemon("--lease", "7", env=clean_env(XDG_STATE_HOME=str(tmp_path)), memory=False)
    store = tmp_path / "orb" / "naming.sqlite3"
    assert daemon.endpoint.startswith("tcp://127.0.0.1:")
    assert daemon.startup == [
        f"orb-naming listening on {daemon.endpoint}",
        f"naming service object: {daemon.uri}",
        f"store: sqlite:{store}; lease 7s",
        "mDNS advertisement disabled",
        "ready",
    ]
    assert store.exists()


def test_a_daemon_on_a_unix_socket_only_has_nothing_to_advertise(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon = start_daemon("--listen", f"unix://{tmp_path}/naming.sock", "--mdns-interface", "127.0.0.1")
    assert "mDNS advertisement skipped: no TCP or TLS endpoint to advertise" in daemon.startup
    with orb.ORB() as client:
        assert client.proxy(daemon.uri).ping() == "pong"


@pytest.mark.parametrize(
    ("endpoints", "chosen", "expected"),
    [
        (["tcp://127.0.0.1:7700"], None, ("tcp://127.0.0.1:7700", ["127.0.0.1"])),
        (["tcp://localhost:7700"], None, ("tcp://localhost:7700", ["127.0.0.1"])),
        (["tcp://127.0.0.1:7700"], ["127.0.0.1"], ("tcp://127.0.0.1:7700", ["127.0.0.1"])),
        (["tcp://10.9.8.7:7700"], ["10.9.8.7"], ("tcp://10.9.8.7:7700", ["10.9.8.7"])),
        (["tcp://10.9.8.7:7700"], None, ("tcp://10.9.8.7:7700", None)),  # every interface
        (["unix:///run/n.sock", "tcp://10.9.8.7:1", "tls://10.9.8.7:2"], None, ("tls://10.9.8.7:2", None)),
        (["unix:///run/n.sock"], None, None),
    ],
)
def test_what_and_where_the_daemon_advertises(
    endpoints: list[str], chosen: list[str] | None, expected: tuple[str, list[str] | None] | None
) -> None:
    endpoint = advertised_endpoint(endpoints)
    if expected is None:
        assert endpoint is None
        return
    assert endpoint is not None
    assert (str(endpoint), mdns_interfaces(endpoint, chosen)) == expected


@pytest.mark.parametrize(
    ("signum", "host"),
    [(signal.SIGTERM, "127.0.0.1"), (signal.SIGINT, "localhost")],  # a host name is advertised as its address
    ids=["SIGTERM", "SIGINT"],
)
def test_a_signal_stops_the_daemon_cleanly_and_withdraws_its_record(
    start_daemon: StartDaemon, tmp_path: Path, signum: int, host: str
) -> None:
    store = tmp_path / "naming.sqlite3"
    domain = unique_domain()
    watcher = Watcher(["127.0.0.1"])
    try:
        daemon = start_daemon(
            "--listen", f"tcp://{host}:0", "--store", str(store), "--mdns-interface", "127.0.0.1",
            "--domain", domain,
        )
        [advertising] = [line for line in daemon.startup if line.startswith("advertising ")]
        instance = advertising.split(" as ", 1)[1].split(" (", 1)[0]
        assert advertising.endswith(f" ({daemon.endpoint}) on 127.0.0.1; domain {domain}")
        watcher.wait_added(instance)
        with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
            thing = Thing("kept")
            broker.export(thing)
            naming = naming_at(broker, daemon)
            naming.bind("kept/permanent", thing, permanent=True)
            # The record: this daemon's address and ORB id, no TLS, its domain.
            record = watcher.info(instance)
            assert record is not None
            port = int(daemon.address.rsplit(":", 1)[1])
            assert (record.parsed_addresses(), record.port) == (["127.0.0.1"], port)
            assert record.properties[b"orb_id"].decode() == naming.info()["orb_id"]
            assert record.properties[b"tls"] == b"0"
            assert record.properties[b"domain"] == domain.encode()
            started = time.monotonic()
            daemon.send_signal(signum)
            assert daemon.proc.wait(10) == 0, daemon.stderr_text()
            assert time.monotonic() - started < 5
        assert daemon.rest().splitlines()[-1] == "orb-naming stopped"
        assert "Traceback" not in daemon.stderr_text()
        # A goodbye packet went out: a browser that saw the record sees it leave
        # (without one it would linger for the record's TTL), and a new search
        # finds nothing.
        watcher.wait_removed(instance, timeout=5)
        assert browse(domain=domain, timeout=0.3, interfaces=["127.0.0.1"]) == []
        # The store was closed properly and holds the binding.
        assert [r.name for r in SQLiteStore(store).load()] == ["kept/permanent"]
    finally:
        watcher.close()


# -- leases of real processes -----------------------------------------------------------


def test_names_of_a_killed_server_expire_within_one_lease(
    shared_daemon: Daemon, start_binder: StartBinder, broker: orb.ORB
) -> None:
    lease, daemon = 1.0, shared_daemon
    binder = start_binder(daemon.address, "crash/a", "crash/b")
    naming = naming_at(broker, daemon)
    assert naming.resolve("crash/a").pid() == binder.pid
    assert is_bound(naming, "crash/b")
    binder.kill()  # SIGKILL: no unbind, no goodbye
    killed = time.monotonic()
    wait_until(lambda: not is_bound(naming, "crash/a") and not is_bound(naming, "crash/b"),
               "the killed server's names to expire", timeout=lease + 3)
    # The last renewal was at most a third of a lease before the kill.
    assert time.monotonic() - killed <= lease + 0.5
    assert naming.list("crash/") == []


def test_a_server_keeps_its_names_until_it_unexports_or_closes(
    shared_daemon: Daemon, start_binder: StartBinder, broker: orb.ORB
) -> None:
    lease, daemon = 1.0, shared_daemon
    binder = start_binder(daemon.address, "srv/one", "srv/two", metadata={"team": "blue"})
    naming = naming_at(broker, daemon)
    assert [e["name"] for e in naming.list(metadata={"team": "blue"})] == ["srv/one", "srv/two"]
    # Its broker renews the leases: the names outlive several lease periods.
    deadline = time.monotonic() + 3 * lease
    checks = 0
    while time.monotonic() < deadline:
        entries = naming.list("srv/")
        assert [e["name"] for e in entries] == ["srv/one", "srv/two"]
        assert all(0 < e["expires_in"] <= lease for e in entries)
        checks += 1
        time.sleep(0.05)  # sampling over time; nothing to wait for
    assert checks > 10
    assert naming.resolve("srv/one").pid() == binder.pid
    # unexport unbinds at once; export binds anew; closing the broker unbinds the rest.
    assert binder.command("unexport srv/one") == "unexported srv/one"
    assert not is_bound(naming, "srv/one")
    assert naming.resolve("srv/two").name() == "srv/two"
    assert binder.command("export srv/three") == "exported srv/three"
    assert naming.resolve("srv/three").pid() == binder.pid
    assert binder.command("close") == "closed"
    assert binder.proc.wait(10) == 0
    assert naming.list("srv/") == []


def test_export_by_name_in_process_with_metadata(shared_daemon: Daemon, broker: orb.ORB) -> None:
    daemon = shared_daemon
    with orb.ORB(listen="tcp://127.0.0.1:0", naming=daemon.address) as server:
        thing = Thing("exported")
        ref = server.export(thing, name="demo/thing", metadata={"kind": "demo"})
        naming = naming_at(broker, daemon)
        [entry] = naming.list("demo/")
        assert entry["metadata"] == {"kind": "demo"}
        assert orb.ref(entry["ref"]).object_id == ref.object_id
        assert naming.resolve("demo/thing").who() == "exported"
        server.unexport(thing)
        assert not is_bound(naming, "demo/thing")
        server.export(thing, name="demo/again")
    assert not is_bound(naming, "demo/again")


def test_export_of_a_name_someone_else_holds_fails_and_exports_nothing(
    shared_daemon: Daemon, broker: orb.ORB
) -> None:
    daemon = shared_daemon
    held = Thing("holder")
    broker.export(held)
    naming_at(broker, daemon).bind("contested", held, None, 60)
    with orb.ORB(listen="tcp://127.0.0.1:0", naming=daemon.address) as other:
        before = other.stats()["objects"]["total"]
        with pytest.raises(orb.AlreadyBound):
            other.export(Thing("late"), name="contested")
        with pytest.raises(orb.AccessDenied):
            other.export(Thing("late"), name="contested", rebind=True)
        assert other.stats()["objects"]["total"] == before
    assert naming_at(broker, daemon).resolve("contested") is held


def test_without_a_reachable_naming_service_export_by_name_fails_cleanly(start_daemon: StartDaemon) -> None:
    daemon = start_daemon()
    with orb.ORB(listen="tcp://127.0.0.1:0", naming=daemon.address) as server:
        thing = Thing("orphan")
        server.export(thing, name="gone/soon")
        daemon.kill()
        server.unexport(thing)  # best effort: the lease runs out on its own
        before = server.stats()["objects"]["total"]
        with pytest.raises(orb.CommunicationError):
            server.export(Thing("late"), name="gone/later")
        assert server.stats()["objects"]["total"] == before  # nothing left exported
        server.export(thing, name=None)  # exporting without a name needs no naming service
        closing = time.monotonic()
    assert time.monotonic() - closing < 5


# -- restart with the SQLite store ------------------------------------------------------


def test_restart_keeps_the_store_even_after_sigkill(
    start_daemon: StartDaemon, start_binder: StartBinder, broker: orb.ORB, tmp_path: Path
) -> None:
    lease = 1.0
    store = str(tmp_path / "naming.sqlite3")
    first = start_daemon("--store", store, "--lease", str(lease))
    admin = naming_at(broker, first)
    printer = Thing("printer")
    broker.export(printer)
    admin.bind("admin/printer", printer, {"floor": 1}, None, True)
    binder = start_binder(first.address, "svc/leased")
    admin.bind("acked/leased", printer)  # acknowledged, then the daemon dies at once
    first.kill()

    second = start_daemon("--store", store, "--lease", str(lease), "--listen", first.endpoint)
    naming = naming_at(broker, second)
    restarted = time.monotonic()
    entries = {e["name"]: e for e in naming.list("", recursive=True)}
    assert entries["admin/printer"]["permanent"] is True
    assert entries["admin/printer"]["metadata"] == {"floor": 1}
    assert naming.resolve("admin/printer") is printer
    assert 0 < entries["svc/leased"]["expires_in"] <= lease
    assert 0 < entries["acked/leased"]["expires_in"] <= lease
    # Nobody renews acked/leased: it goes after its one fresh lease period.
    # The binder's broker renews svc/leased with the restarted daemon and keeps it.
    wait_until(lambda: not is_bound(naming, "acked/leased"), "acked/leased to expire",
               timeout=lease + 2)
    while time.monotonic() - restarted < 2 * lease:
        assert naming.resolve("svc/leased").pid() == binder.pid
        time.sleep(0.1)  # sampling over time
    assert naming.resolve("admin/printer") is printer


def test_a_server_binds_its_names_again_when_a_memory_daemon_restarts(
    start_daemon: StartDaemon, start_binder: StartBinder, broker: orb.ORB
) -> None:
    first = start_daemon("--lease", "1")
    binder = start_binder(first.address, "back/svc")
    first.kill()
    second = start_daemon("--lease", "1", "--listen", first.endpoint)  # remembers nothing
    naming = naming_at(broker, second)
    # The server's next renewal hears the name is lost, and binds it again.
    wait_until(lambda: is_bound(naming, "back/svc"), "the server to bind its name again", timeout=5)
    assert naming.resolve("back/svc").pid() == binder.pid


# -- concurrency -------------------------------------------------------------------------


def test_concurrent_binds_of_distinct_names_all_succeed(shared_daemon: Daemon) -> None:
    daemon = shared_daemon
    brokers = [orb.ORB(listen="tcp://127.0.0.1:0", timeout=10) for _ in range(4)]
    try:
        things = [Thing(f"t{i}") for i in range(4)]
        for b, thing in zip(brokers, things, strict=True):
            b.export(thing)
        errors: list[BaseException] = []
        start = threading.Barrier(32)

        def bind(i: int) -> None:
            b = brokers[i % 4]
            try:
                start.wait(5)
                b.proxy(daemon.uri).bind(f"many/n{i:02d}", things[i % 4], {"i": i}, 60)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=bind, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert errors == []
        entries = brokers[0].proxy(daemon.uri).list("many/")
        assert [e["name"] for e in entries] == [f"many/n{i:02d}" for i in range(32)]
        assert all(e["metadata"] == {"i": int(e["name"][-2:])} for e in entries)
    finally:
        for b in brokers:
            b.close()


def test_concurrent_binds_of_one_name_have_exactly_one_winner(shared_daemon: Daemon) -> None:
    daemon = shared_daemon
    brokers = [orb.ORB(listen="tcp://127.0.0.1:0", timeout=10) for _ in range(8)]
    try:
        things = [Thing(f"contender{i}") for i in range(8)]
        for b, thing in zip(brokers, things, strict=True):
            b.export(thing)
        outcomes: dict[int, Any] = {}
        start = threading.Barrier(16)

        def bind(i: int) -> None:
            try:
                start.wait(5)
                outcomes[i] = brokers[i % 8].proxy(daemon.uri).bind("the/one", things[i % 8], None, 60)
            except BaseException as exc:  # noqa: BLE001 - counted below
                outcomes[i] = exc

        threads = [threading.Thread(target=bind, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        winners = [i for i, result in outcomes.items() if not isinstance(result, BaseException)]
        losers = [r for r in outcomes.values() if isinstance(r, BaseException)]
        assert len(winners) == 1 and len(losers) == 15
        assert all(isinstance(r, orb.AlreadyBound) for r in losers), losers
        winner = winners[0] % 8
        with orb.ORB() as observer:
            assert observer.proxy(daemon.uri).resolve("the/one").who() == f"contender{winner}"
    finally:
        for b in brokers:
            b.close()


# -- where a broker looks for the naming service ----------------------------------------------


@pytest.fixture(scope="module")
def two_daemons(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daemon, Daemon]]:
    """Daemons A and B, each with "where" bound to a Thing saying "A" or "B"."""
    logs = tmp_path_factory.mktemp("two-daemons")
    a = Daemon(*daemon_argv([]), log=logs / "a.log", wait=False)
    b = Daemon(*daemon_argv([]), log=logs / "b.log", wait=False)
    try:
        a.wait_ready()
        b.wait_ready()
    except BaseException:
        a.stop()
        b.stop()
        raise
    with orb.ORB(listen="tcp://127.0.0.1:0", timeout=10) as broker:
        for label, daemon in zip("AB", (a, b), strict=True):
            thing = Thing(label)
            broker.export(thing)
            naming_at(broker, daemon).bind("where", thing, permanent=True)
        yield a, b
    a.stop()
    b.stop()


def test_orb_naming_variable_and_explicit_argument(
    two_daemons: tuple[Daemon, Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_daemons
    monkeypatch.setenv(NAMING_ENV, a.address)
    with orb.ORB():  # the default broker for orb.resolve
        assert orb.resolve("where").who() == "A"
        assert orb.resolve("where", naming=b.address).who() == "B"  # explicit beats the variable
        assert orb.naming.resolve("where", naming=b.uri).who() == "B"
        with pytest.raises(orb.NameNotFound):
            orb.resolve("nowhere")
    # The variable may be an endpoint or the object URI too.
    for value in (a.endpoint, a.uri):
        monkeypatch.setenv(NAMING_ENV, value)
        with orb.ORB():
            assert orb.resolve("where").who() == "A"


def test_orb_naming_argument_of_the_broker_beats_the_variable(
    two_daemons: tuple[Daemon, Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_daemons
    monkeypatch.setenv(NAMING_ENV, a.address)
    with orb.ORB(listen="tcp://127.0.0.1:0", naming=b.address) as server:
        assert orb.resolve("where").who() == "B"
        server.export(Thing("mine"), name="configured")
        assert orb.resolve("configured", naming=b.address).who() == "mine"
        with pytest.raises(orb.NameNotFound):
            orb.resolve("configured", naming=a.address)


def test_a_timeout_given_to_resolve_is_that_proxys_own(
    two_daemons: tuple[Daemon, Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = two_daemons
    monkeypatch.setenv(NAMING_ENV, a.address)
    with orb.ORB(timeout=10):
        impatient = orb.resolve("where", timeout=0.2)
        patient = orb.resolve("where")
        with pytest.raises(orb.TimeoutError):
            impatient.pause(1)
        assert patient.pause(0.3) == "A"


def test_find_naming_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NAMING_ENV, "127.0.0.1:7001")
    assert find_naming() == "orb://127.0.0.1:7001/orb.naming"
    assert find_naming("127.0.0.1:7002") == "orb://127.0.0.1:7002/orb.naming"
    assert find_naming("unix:///run/orb/naming.sock") == "orb+unix://%2Frun%2Forb%2Fnaming.sock/orb.naming"
    monkeypatch.setenv(NAMING_ENV, "orb://127.0.0.1:7003/orb.naming")
    assert find_naming() == "orb://127.0.0.1:7003/orb.naming"


def test_changing_orb_naming_is_noticed_by_the_same_broker(
    two_daemons: tuple[Daemon, Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = two_daemons
    with orb.ORB():
        monkeypatch.setenv(NAMING_ENV, a.address)
        assert orb.resolve("where").who() == "A"
        monkeypatch.setenv(NAMING_ENV, b.address)
        assert orb.resolve("where").who() == "B"


def test_resolve_with_unreachable_naming_is_a_communication_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with orb.ORB():
        with pytest.raises(orb.CommunicationError):
            orb.resolve("anything", naming="127.0.0.1:1", timeout=5)
