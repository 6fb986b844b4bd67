"""Run scenarios against systems and collect the numbers.

Every system's echo server is started first, each in its own process on
loopback (or a Unix socket in a temporary directory); then the scenarios
run one after another, and within a scenario the systems take turns, so
a noisy neighbour slows all of them alike. With several rounds, each
number is the best of its rounds.
"""

from __future__ import annotations

import gc
import tempfile
import traceback
from collections.abc import Callable, Iterable

import attrs

from .processes import Server
from .scenarios import SCENARIOS, Metric, Settings, metrics
from .systems import NotAvailable, System, all_systems


@attrs.frozen
class Outcome:
    """One scenario on one system: its numbers, or why there are none."""

    values: dict[str, float] = attrs.Factory(dict)
    #: "n/a (...)" or "error: ..." when the scenario gave no numbers.
    note: str | None = None


@attrs.define
class Results:
    """Everything one run measured."""

    settings: Settings
    systems: list[System]
    scenarios: list[str]
    outcomes: dict[tuple[str, str], Outcome] = attrs.Factory(dict)

    def value(self, metric: Metric, system: str) -> float | None:
        """The number for one cell of the table, or None."""
        outcome = self.outcomes.get((metric.scenario, system))
        return None if outcome is None else outcome.values.get(metric.name)

    def note(self, scenario: str, system: str) -> str | None:
        outcome = self.outcomes.get((scenario, system))
        return None if outcome is None else outcome.note

    def rows(self) -> list[Metric]:
        return [m for m in metrics(self.settings) if m.scenario in self.scenarios]

    def record(self, scenario: str, system: str, outcome: Outcome) -> None:
        """Keep the best of this and any earlier round."""
        old = self.outcomes.get((scenario, system))
        if old is None or old.note is not None:
            self.outcomes[(scenario, system)] = outcome
            return
        if outcome.note is not None:
            return
        best = dict(old.values)
        for metric in metrics(self.settings):
            if metric.scenario != scenario or metric.name not in outcome.values:
                continue
            new = outcome.values[metric.name]
            current = best.get(metric.name)
            if current is None or (new > current if metric.higher_is_better else new < current):
                best[metric.name] = new
        self.outcomes[(scenario, system)] = Outcome(best)

    def to_json(self) -> dict:
        return {
            "settings": attrs.asdict(self.settings),
            "systems": [s.key for s in self.systems],
            "results": {
                f"{scenario}/{system}": {"values": o.values, "note": o.note}
                for (scenario, system), o in self.outcomes.items()
            },
        }


def run_one(scenario: str, system: System, address: str, settings: Settings) -> Outcome:
    """One scenario on one system; failures become a note, not an exception."""
    gc.collect()
    try:
        return Outcome(SCENARIOS[scenario](system, address, settings))
    except NotAvailable as exc:
        return Outcome(note=f"n/a ({exc})")
    except Exception as exc:
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return Outcome(note=f"error: {detail}")


def run(
    *,
    settings: Settings,
    systems: Iterable[str] | None = None,
    scenarios: Iterable[str] | None = None,
    rounds: int = 1,
    progress: Callable[[str], None] = lambda text: None,
) -> Results:
    """Start the servers, run every scenario on every system, stop the servers."""
    chosen = [s for s in all_systems() if systems is None or s.key in set(systems)]
    names = [n for n in SCENARIOS if scenarios is None or n in set(scenarios)]
    results = Results(settings=settings, systems=chosen, scenarios=names)
    with tempfile.TemporaryDirectory(prefix="orb-bench-") as directory:
        servers: dict[str, Server] = {}
        try:
            for system in chosen:
                reason = system.missing()
                if reason is not None:
                    for name in names:
                        results.record(name, system.key, Outcome(note=f"n/a ({reason})"))
                    continue
                progress(f"starting the {system.title} server")
                servers[system.key] = Server(system.key, directory)
            for round_number in range(rounds):
                for name in names:
                    for system in chosen:
                        server = servers.get(system.key)
                        if server is None:
                            continue
                        progress(f"round {round_number + 1}/{rounds}: {name} on {system.title}")
                        results.record(
                            name, system.key, run_one(name, system, server.address, settings)
                        )
        finally:
            for system in chosen:
                system.close()
            for server in servers.values():
                server.stop()
    return results
