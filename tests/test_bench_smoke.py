"""The benchmark harness runs: every scenario on every system, for a fraction of a second.

These are not timed tests: they check that each scenario produces its
numbers (or a stated reason why a system cannot run it), so bench/ cannot
rot. orb and the floor always run; Pyro5 and RPyC are skipped only when
the `bench` extra is not installed.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from bench import harness, report  # noqa: E402
from bench.scenarios import SCENARIOS, Settings, metrics  # noqa: E402

SMOKE = Settings(
    duration=0.1,
    threads=3,
    processes=2,
    threads_per_process=2,
    fanout=50,
    payloads=(1024, 1024 * 1024),
)

HAS_AIO = importlib.util.find_spec("orb.aio") is not None

#: (scenario, system) pairs that may give a reason instead of numbers.
EXPECTED_GAPS = {
    ("threads_one_proxy", "pyro5"): "belongs to the thread",
    ("asyncio_fanout", "pyro5"): "no asyncio API",
    ("asyncio_fanout", "rpyc"): "no asyncio API",
}
if not HAS_AIO:
    EXPECTED_GAPS[("asyncio_fanout", "orb_tcp")] = "orb.aio missing"
    EXPECTED_GAPS[("asyncio_fanout", "orb_unix")] = "orb.aio missing"


def _needs(module: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        importlib.util.find_spec(module) is None,
        reason=f"{module} is not installed; pip install '.[bench]' to benchmark against it",
    )


SYSTEMS = [
    pytest.param("orb_tcp"),
    pytest.param("orb_unix"),
    pytest.param("floor"),
    pytest.param("pyro5", marks=_needs("Pyro5")),
    pytest.param("rpyc", marks=_needs("rpyc")),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("system", SYSTEMS)
def test_every_scenario_runs(system: str) -> None:
    results = harness.run(settings=SMOKE, systems=[system])

    for scenario in SCENARIOS:
        outcome = results.outcomes[(scenario, system)]
        gap = EXPECTED_GAPS.get((scenario, system))
        if gap is not None:
            assert outcome.note is not None and gap in outcome.note, outcome
            continue
        assert outcome.note is None, f"{scenario} on {system}: {outcome.note}"
        expected = {m.name for m in metrics(SMOKE) if m.scenario == scenario}
        assert set(outcome.values) == expected
        assert all(value > 0 for value in outcome.values.values()), outcome.values


def test_report_has_every_row_the_ratios_and_the_targets() -> None:
    results = harness.run(
        settings=SMOKE, systems=["orb_tcp", "floor"], scenarios=["seq_small", "payload"]
    )

    table = report.table(results)
    lines = table.splitlines()
    assert "orb tcp" in lines[0] and "floor" in lines[0] and "orb/floor" in lines[0]
    assert "orb/Pyro5" not in lines[0]  # only systems that ran get a ratio column
    rows = [line for line in lines[2:] if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in rows] == [
        "seq_small", "seq_small", "seq_small", "payload", "payload"
    ]
    assert all(row.rstrip(" |").endswith("x") for row in rows)  # each has its orb/floor ratio
    targets = report.targets(results)
    assert "seq_small: orb >= 0.8x the floor" in targets
    assert "seq_small: orb >= 2x Pyro5" in targets and "not measured" in targets


def test_the_socketless_hot_path_benchmark_runs(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import hot_path

    hot_path.main(["--calls", "200", "--rounds", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["server", "client"]
    assert all("µs CPU per call" in line and "function calls per call" in line for line in lines)
