"""Fixtures for the naming tests: a fake clock, an in-process naming service
with parties of their own, and ``orb-naming`` daemons and binding servers as
real processes (see naming_support.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

import orb
from naming_support import (
    NAMING_VARIABLES,
    Binder,
    Daemon,
    FakeClock,
    NamingHost,
    Party,
    Thing,
    daemon_argv,
)
from orb.naming import NAMING_OBJECT_ID, NamingService


@pytest.fixture(autouse=True)
def _no_naming_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests decide where naming is; the caller's environment does not."""
    for name in NAMING_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    # Any search a test does not pin itself stays on loopback.
    monkeypatch.setenv("ORB_MDNS_INTERFACES", "127.0.0.1")


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    """``start_daemon(*args)``: an orb-naming daemon (see daemon_argv); stopped after the test."""
    daemons: list[Daemon] = []

    def start(
        *args: str, env: dict[str, str] | None = None, prefix: Sequence[str] = (), memory: bool = True,
    ) -> Daemon:
        log = tmp_path / f"daemon-{len(daemons)}.log"
        daemon = Daemon(*daemon_argv(args, memory=memory), log=log, env=env, prefix=prefix)
        daemons.append(daemon)
        return daemon

    yield start
    for daemon in daemons:
        daemon.stop()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for a module's tests (lease 1 s, memory); each test uses names of its own."""
    log = tmp_path_factory.mktemp("shared-daemon") / "daemon.log"
    daemon = Daemon(*daemon_argv(["--lease", "1"]), log=log)
    yield daemon
    daemon.stop()


@pytest.fixture
def start_binder(tmp_path: Path) -> Iterator[Callable[..., Binder]]:
    """``start_binder(naming_address, *names)``: a server process binding those names
    (``naming_address`` None: it looks for the naming service itself)."""
    binders: list[Binder] = []

    def start(
        naming: str | None, *names: str, metadata: dict | None = None, env: dict[str, str] | None = None,
    ) -> Binder:
        log = tmp_path / f"binder-{len(binders)}.log"
        binder = Binder(naming, *names, log=log, metadata=metadata, env=env)
        binders.append(binder)
        return binder

    yield start
    for binder in binders:
        binder.stop()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def naming_host(clock: FakeClock) -> Iterator[NamingHost]:
    service = NamingService(lease=1.0, clock=clock)
    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        broker.export(service, object_id=NAMING_OBJECT_ID)
        yield NamingHost(service=service, broker=broker, clock=clock)


@pytest.fixture
def make_party(naming_host: NamingHost) -> Iterator[Callable[[str], Party]]:
    """``make_party(label)``: another broker (own ORB id) using the naming host."""
    brokers: list[orb.ORB] = []

    def make(label: str) -> Party:
        broker = orb.ORB(listen="tcp://127.0.0.1:0", naming=naming_host.address, timeout=10)
        brokers.append(broker)
        thing = Thing(label)
        ref = broker.export(thing)
        naming = broker.proxy(f"orb://{naming_host.address}/{NAMING_OBJECT_ID}")
        return Party(broker=broker, naming=naming, thing=thing, ref=ref)

    yield make
    for broker in reversed(brokers):
        broker.close()


@pytest.fixture
def alice(make_party: Callable[[str], Party]) -> Party:
    return make_party("alice")


@pytest.fixture
def bob(make_party: Callable[[str], Party]) -> Party:
    return make_party("bob")


