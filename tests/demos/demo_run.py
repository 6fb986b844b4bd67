"""Run a demo the way a user does, as a subprocess, and hand back its output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from child_env import clean_env

DEMOS = Path(__file__).resolve().parents[2] / "demos"


def run_demo(script: str, cwd: Path, timeout: float = 60.0) -> str:
    """Run ``demos/<script>`` from ``cwd`` (not the demos directory); its standard output.

    Fails unless it exits 0 and reports no failed step. orb's environment
    variables from the outside are removed: the demos set their own.
    """
    env = clean_env()
    result = subprocess.run(
        [sys.executable, str(DEMOS / script)],
        cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False,
    )
    out = result.stdout
    assert result.returncode == 0, f"{script} failed ({result.returncode}):\n{out}\n{result.stderr}"
    assert "FAILED" not in out, out
    assert "Traceback" not in out + result.stderr, out + result.stderr
    return out
