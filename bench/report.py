"""Print a run's results: one table of scenario x system, ratios, targets.

Ratios say how many times better orb (over TCP) did than the other
system in the same run: for rates (calls/s, MB/s) it is orb's number over
theirs, for times (µs, ms) theirs over orb's, so above 1 always means orb
was better.
"""

from __future__ import annotations

import attrs

from .harness import Results
from .scenarios import Metric

#: The ratio columns: (title, the system orb is compared with).
RATIOS = (("orb/Pyro5", "pyro5"), ("orb/RPyC", "rpyc"), ("orb/floor", "floor"))


@attrs.frozen
class Target:
    """A goal for one ratio measured in one run."""

    text: str
    metric: Metric
    system: str
    #: What the metric is compared with; None: the metric is a ratio itself.
    other_metric: Metric | None
    other_system: str | None
    goal: float


_CALLS = Metric("seq_small", "calls/s", "calls/s")

TARGETS = (
    Target("seq_small: orb >= 2x Pyro5", _CALLS, "orb_tcp", _CALLS, "pyro5", 2.0),
    Target("seq_small: orb >= 0.8x the floor", _CALLS, "orb_tcp", _CALLS, "floor", 0.8),
    Target(
        "threads_one_proxy: orb >= 3x Pyro5's threads_own_proxy",
        Metric("threads_one_proxy", "calls/s", "calls/s"), "orb_tcp",
        Metric("threads_own_proxy", "calls/s", "calls/s"), "pyro5", 3.0,
    ),
    Target(
        "payload 10 MB: orb >= 0.8x the floor",
        Metric("payload", "10 MB", "MB/s"), "orb_tcp",
        Metric("payload", "10 MB", "MB/s"), "floor", 0.8,
    ),
    Target("seq_small: orb unix >= 1.3x orb tcp", _CALLS, "orb_unix", _CALLS, "orb_tcp", 1.3),
    Target(
        "asyncio_fanout: 1,000 concurrent >= 5x faster than sequential",
        Metric("asyncio_fanout", "speedup", "x"), "orb_tcp", None, None, 5.0,
    ),
)


def ratio(results: Results, metric: Metric, system: str, other_metric: Metric,
          other_system: str) -> float | None:
    """How many times better ``system`` did than ``other_system`` (None if unknown)."""
    mine = results.value(metric, system)
    theirs = results.value(other_metric, other_system)
    if not mine or not theirs:
        return None
    return mine / theirs if metric.higher_is_better else theirs / mine


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(results: Results) -> str:
    """The table as Markdown-compatible text, with notes for the empty cells."""
    systems = [s for s in results.systems]
    has = {key for key in (s.key for s in systems)}
    ratio_columns = [(title, key) for title, key in RATIOS if key in has and "orb_tcp" in has]
    header = ["scenario", "metric", *(s.title for s in systems), *(t for t, _ in ratio_columns)]
    lines = [header]
    notes: dict[str, int] = {}

    def cell(metric: Metric, key: str) -> str:
        value = results.value(metric, key)
        if value is not None:
            return _number(value)
        note = results.note(metric.scenario, key)
        if note is None:
            return "n/a"
        number = notes.setdefault(note, len(notes) + 1)
        return f"n/a [{number}]" if note.startswith("n/a") else f"error [{number}]"

    for metric in results.rows():
        row = [metric.scenario, f"{metric.name} ({metric.unit})" if metric.name != metric.unit
               else metric.unit]
        row += [cell(metric, s.key) for s in systems]
        for _, key in ratio_columns:
            value = ratio(results, metric, "orb_tcp", metric, key)
            row.append("" if value is None else f"{value:.2f}x")
        lines.append(row)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        cells = [
            text.ljust(width) if column < 2 else text.rjust(width)
            for column, (text, width) in enumerate(zip(line, widths))
        ]
        out.append("| " + " | ".join(cells) + " |")
        if index == 0:
            out.append("|" + "|".join(
                "-" * (w + 2) if c < 2 else "-" * (w + 1) + ":" for c, w in enumerate(widths)
            ) + "|")
    for note, number in notes.items():
        out.append(f"[{number}] {note.removeprefix('n/a (').removesuffix(')')}"
                   if note.startswith("n/a") else f"[{number}] {note}")
    return "\n".join(out)


def targets(results: Results) -> str:
    """Each target with the ratio measured in this run."""
    out = ["targets (ratios from this run; above 1 means the first system did better):"]
    for target in TARGETS:
        if target.other_metric is None or target.other_system is None:
            value = results.value(target.metric, target.system)
        else:
            value = ratio(results, target.metric, target.system, target.other_metric,
                          target.other_system)
        if value is None:
            status = "not measured"
            shown = "n/a"
        else:
            status = "met" if value >= target.goal else "MISSED"
            shown = f"{value:.2f}x"
        out.append(f"  {target.text:<62} {shown:>7}  {status}")
    return "\n".join(out)


def describe_settings(results: Results) -> str:
    s = results.settings
    return (
        f"{s.duration:g} s per measurement; threads_*: {s.threads} threads; clients: "
        f"{s.processes} processes x {s.threads_per_process} threads; asyncio_fanout: "
        f"{s.fanout} calls; ratios compare orb over TCP with each system, above 1 = orb better"
    )
