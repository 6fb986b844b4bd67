"""demos/workqueue: workers pull jobs by name; a killed worker's job and name go away."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from demo_run import run_demo


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_workqueue_demo_redoes_the_killed_workers_job(tmp_path: Path) -> None:
    out = run_demo("workqueue/run.py", tmp_path, timeout=75)
    # Workers found the dispatcher by name and bound their own names.
    for worker in ("w1", "w2", "w3"):
        assert f"[{worker}] pid " in out and f"bound workqueue/workers/{worker}" in out
    # Every job's result streamed back exactly once.
    jobs = sorted(int(n) for n in re.findall(r"^  job +(\d+): ", out, re.MULTILINE))
    assert jobs == list(range(1, 13))
    # The job w2 held when it was killed went back to the queue and was done again elsewhere.
    held = re.search(r"kill -9 \d+ \(w2, holding job (\d+)\)", out).group(1)
    assert f"[dispatcher] job {held} was held by w2, whose lease ran out: back in the queue" in out
    assert re.search(rf"^  job +{held}: .* by w[13]   \(attempt 2\)$", out, re.MULTILINE)
    # w2's name expired; the others kept theirs until they stopped and unbound them.
    assert "['workqueue/workers/w1', 'workqueue/workers/w3']" in out
    assert "objects   {'total': 2, 'pinned': 2, 'implicit': 0}" in out
    assert "workqueue/workers/ is empty" in out
    assert "orb-naming stopped cleanly (exit status 0)" in out
