"""The demos' shared harness (demos/_common.py): a failed or hung demo exits 1 and leaves no child behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from demo_run import DEMOS

SCRIPT = """
import sys
sys.path.insert(0, {demos!r})
import time
from _common import Cast, demo_env, run_demo
from tourkit import Steps, check

class Demo:
    def __init__(self):
        self.cast = Cast(demo_env("harness"))

stages = Steps()

@stages.add("start a child")
def start(demo):
    child = demo.cast.start("sleeper", "-c", "import time; print('up', flush=True); time.sleep(60)")
    child.expect("up", 20)
    print("child pid", child.pid, flush=True)

@stages.add("the step under test")
def step(demo):
    {step}

@stages.add("never reached")
def after(demo):
    print("REACHED", flush=True)

sys.exit(run_demo("harness", "intro", stages, Demo(), "outro", deadline={deadline}))
"""


def run_script(tmp_path: Path, step: str, deadline: float) -> tuple[subprocess.CompletedProcess, int]:
    script = tmp_path / "demo.py"
    script.write_text(textwrap.dedent(SCRIPT).format(demos=str(DEMOS), step=step, deadline=deadline))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                            text=True, timeout=30, check=False)
    pid = int(next(line.split()[-1] for line in result.stdout.splitlines()
                   if line.startswith("child pid")))
    return result, pid


def gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (killed children are reaped by the demo)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.timeout(30)
def test_a_failed_step_stops_the_demo_kills_its_children_and_exits_1(tmp_path: Path) -> None:
    result, pid = run_script(tmp_path, 'check(False, "the thing did not happen")', deadline=60)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "STEP FAILED: the thing did not happen" in result.stdout
    assert "The demo FAILED" in result.stdout
    assert "REACHED" not in result.stdout
    assert gone(pid)


@pytest.mark.timeout(30)
def test_a_hung_demo_is_stopped_at_its_deadline(tmp_path: Path) -> None:
    started = time.monotonic()
    result, pid = run_script(tmp_path, "time.sleep(60)", deadline=3)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "The demo FAILED: still running after 3 s; stopping it." in result.stdout
    assert time.monotonic() - started < 20
    assert gone(pid)
