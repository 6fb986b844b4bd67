"""Helpers for the naming tests: processes read line by line (``orb-naming``
daemons, binding servers), a fake clock, servants, polling with a deadline.

Everything stays on loopback: daemons listen on ``tcp://127.0.0.1:0`` and
either skip mDNS (``--no-mdns``) or advertise on ``127.0.0.1`` only; every
mDNS search in these tests is pinned to loopback (or to a test namespace's
veth address) and uses a domain of its own, so naming services run by other
tests on this machine never answer it.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from child_env import clean_env
from line_process import LineProcess
from orb.naming import NAMING_OBJECT_ID, SERVICE_TYPE, NamingService
from polling import wait_until  # noqa: F401 - the suite's tests import it from here
from zeroconf import IPVersion, ServiceBrowser, ServiceInfo, ServiceListener, Zeroconf

import orb

HERE = Path(__file__).resolve().parent
BINDER = HERE / "naming_binder.py"
LOCATOR = HERE / "naming_locator.py"
#: Environment variables that would change where this (the test) process looks
#: for naming; child processes get none of the caller's ``ORB_*`` (child_env.clean_env).
NAMING_VARIABLES = ("ORB_NAMING", "ORB_NAMING_DOMAIN", "ORB_MDNS_INTERFACES")


def unique_domain() -> str:
    """A naming domain no other test (or session) advertises."""
    return f"t{uuid.uuid4().hex[:12]}"


# -- processes ---------------------------------------------------------------


class Daemon(LineProcess):
    """``python -m orb.naming`` started and read until it prints ``ready``.

    ``prefix`` runs it under another command (``ip netns exec NS``).
    ``address`` is its ``host:port``. With ``wait=False`` the constructor
    returns at once and :meth:`wait_ready` reads the startup (so several
    daemons can start side by side).
    """

    def __init__(
        self, *args: str, log: Path, env: dict[str, str] | None = None, prefix: Sequence[str] = (),
        wait: bool = True,
    ) -> None:
        super().__init__(
            [sys.executable, "-m", "orb.naming", *args], log=log, prefix=prefix,
            env=env if env is not None else clean_env(),
        )
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        try:
            self.startup = self.read_until("ready")
        except BaseException:
            self.kill()
            raise
        listening = [line for line in self.startup if line.startswith("orb-naming listening on ")]
        assert listening, self.startup
        self.endpoint = listening[0].rsplit(" ", 1)[1]
        self.address = self.endpoint.split("://", 1)[1]
        [uri] = [
            line.rsplit(" ", 1)[1] for line in self.startup if line.startswith("naming service object: ")
        ]
        self.uri = uri
        assert uri.endswith(f"/{NAMING_OBJECT_ID}")


def daemon_argv(args: Sequence[str], *, memory: bool = True) -> list[str]:
    """``args`` completed with the test defaults: a free loopback port, the
    memory store (unless ``memory`` is False), and no mDNS."""
    argv = list(args)
    if "--listen" not in argv:
        argv += ["--listen", "tcp://127.0.0.1:0"]
    if memory and "--store" not in argv and "--memory" not in argv:
        argv.append("--memory")
    if "--mdns-interface" not in argv and "--no-mdns" not in argv:
        argv.append("--no-mdns")
    return argv


class Binder(LineProcess):
    """tests/naming/naming_binder.py: a server that exports objects by name.

    ``info`` is the JSON line it printed (orb_id, endpoints, uris by name);
    with ``wait=False`` :meth:`wait_ready` reads it later.
    """

    def __init__(
        self, naming: str | None, *names: str, log: Path, metadata: dict | None = None,
        options: Sequence[str] = (), prefix: Sequence[str] = (), env: dict[str, str] | None = None,
        wait: bool = True,
    ) -> None:
        argv = [sys.executable, str(BINDER), *options, *names]
        if naming is not None:
            argv += ["--naming", naming]
        if metadata:
            argv += ["--metadata", json.dumps(metadata)]
        super().__init__(argv, log=log, prefix=prefix, env=env if env is not None else clean_env())
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        try:
            self.info: dict[str, Any] = json.loads(self.readline(15))
        except BaseException:
            self.kill()
            raise

    def command(self, line: str, timeout: float = 10.0) -> str:
        """Send one command line; return the line it answers."""
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return self.readline(timeout)


# -- in-process service --------------------------------------------------------


class FakeClock:
    """Monotonic seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@orb.expose
class Thing:
    """A servant to bind: says who it is."""

    def __init__(self, label: str) -> None:
        self.label = label

    def who(self) -> str:
        return self.label

    def pause(self, seconds: float) -> str:
        """Answer after ``seconds`` (a slow call)."""
        time.sleep(seconds)
        return self.label


@attrs.define
class Party:
    """A broker listening on loopback, its naming proxy, and an exported Thing."""

    broker: orb.ORB
    naming: Any
    thing: Thing
    ref: orb.ObjectRef

    @property
    def orb_id(self) -> bytes:
        return self.broker.orb_id


@attrs.define
class NamingHost:
    """A NamingService on a fake clock, exported on a real loopback broker."""

    service: NamingService
    broker: orb.ORB
    clock: FakeClock

    @property
    def address(self) -> str:
        return self.broker.endpoints[0].split("://", 1)[1]




class Watcher(ServiceListener):
    """Browses ``_orb-naming._tcp.local.`` on the given local addresses only and
    records the instance names seen arriving and leaving."""

    def __init__(self, interfaces: Sequence[str] = ("127.0.0.1",)) -> None:
        self._changed = threading.Condition()
        self.added: set[str] = set()
        self.removed: set[str] = set()
        self._zc = Zeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)
        self._browser = ServiceBrowser(self._zc, SERVICE_TYPE, self)

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        with self._changed:
            self.added.add(name)
            self._changed.notify_all()

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        with self._changed:
            self.removed.add(name)
            self._changed.notify_all()

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        pass

    def wait_added(self, name: str, timeout: float = 5.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: name in self.added, timeout), f"{name} never appeared"

    def wait_removed(self, name: str, timeout: float = 5.0) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: name in self.removed, timeout), f"{name} was not withdrawn"

    def info(self, name: str) -> ServiceInfo | None:
        """The record of ``name`` (from what was heard, else asked for)."""
        return self._zc.get_service_info(SERVICE_TYPE, name, timeout=3000)

    def close(self) -> None:
        self._browser.cancel()
        self._zc.close()
