"""Servants and helpers shared by the distributed GC tests."""

from __future__ import annotations

import threading
from typing import Any

from polling import wait_until  # noqa: F401 - the suite's tests import it from here

import orb


def dgc(
    lease: float, sweep: float | None = None, transit: float | None = None, *,
    enabled: bool = True, max_workers: int = 64,
) -> orb.Config:
    """A broker config with a short lease (swept every 20th of it unless told)."""
    return orb.Config(
        dgc=orb.DGCConfig(
            lease=lease, sweep_interval=sweep or lease / 20, transit=transit, enabled=enabled
        ),
        max_workers=max_workers,
    )


class Freed:
    """Records ``__orb_unreferenced__`` calls of the Things made by one Factory."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.labels: list[str] = []

    def record(self, label: str) -> None:
        with self._changed:
            self.labels.append(label)
            self._changed.notify_all()

    def wait_for(self, label: str, timeout: float = 5.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: label in self.labels, timeout)


@orb.expose
class Thing:
    """An object that is only ever exported implicitly (by being returned)."""

    def __init__(self, label: str, freed: Freed) -> None:
        self.label = label
        self._freed = freed

    def ping(self) -> str:
        return self.label

    def __orb_unreferenced__(self) -> None:
        self._freed.record(self.label)


@orb.expose
class Factory:
    """Makes Things; ``freed`` tells which were collected."""

    def __init__(self) -> None:
        self.freed = Freed()
        self.made: dict[str, Thing] = {}

    def make(self, label: str) -> Thing:
        return Thing(label, self.freed)

    def make_kept(self, label: str) -> Thing:
        """A Thing this side also keeps (for pin tests)."""
        thing = self.made[label] = Thing(label, self.freed)
        return thing


@orb.expose
class Shared:
    """Hands every caller the same Thing (``make`` ignores the label)."""

    def __init__(self, factory: Factory) -> None:
        self._thing: Thing | None = Thing("shared", factory.freed)

    def make(self, label: str) -> Thing:
        assert self._thing is not None
        return self._thing

    def forget(self) -> None:
        """Drop this side's own reference, so only remote holders keep it."""
        self._thing = None


@orb.expose
class Keeper:
    """Keeps references given to it; ``block`` occupies a worker until released."""

    def __init__(self) -> None:
        self.kept: dict[str, Any] = {}
        self.blocking = threading.Event()
        self.release = threading.Event()
        self.got = threading.Event()

    @orb.oneway
    def keep(self, thing: Any) -> None:
        self.kept["thing"] = thing
        self.got.set()

    def keep_now(self, thing: Any) -> None:
        self.kept["thing"] = thing
        self.got.set()

    def ping_kept(self) -> str:
        return self.kept["thing"].ping()

    def kept_thing(self) -> Any:
        """The kept reference, handed on (it travels as a reference to its owner's object)."""
        return self.kept["thing"]

    def block(self) -> None:
        self.blocking.set()
        self.release.wait(10)
