"""The tour runs as a user runs it: ``make demo`` is ``python demos/tour.py``.

The other demos are tested in tests/demos/.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

DEMOS = Path(__file__).resolve().parent.parent / "demos"


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_tour_runs_every_step_and_exits_zero(tmp_path: Path) -> None:
    # From an unrelated working directory: the tour must find its own files.
    result = subprocess.run(
        [sys.executable, str(DEMOS / "tour.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, check=False,
    )
    out = result.stdout
    assert result.returncode == 0, f"tour failed:\n{out}\n{result.stderr}"
    assert "FAILED" not in out
    # The server process printed its URIs and the tour read them.
    assert "server process" in out and "calculator  orb://127.0.0.1:" in out
    # Plain calls, including a property read.
    assert ">>> calc.add(2, 3)\n  5\n" in out
    assert ">>> calc.total" in out
    # The callback came from the server into the client-only broker.
    for n in (1, 2, 3):
        assert f"[client] tick {n} of 3, called by the server" in out
    assert "client broker endpoints: []" in out
    # By reference: the server received a proxy, called it, and the object came home.
    assert "is_proxy     True" in out
    assert "greeting     hello server, from the client's Greeter" in out
    assert ">>> inspector.echo(greeter) is greeter\n  True\n" in out
    # The remote exception printed with the server's traceback above the local one.
    assert "orb.RemoteTraceback" in out
    assert "in divide\n        return a / b" in out
    assert "ZeroDivisionError: division by zero" in out
    assert "orb.RemoteError: tour_services.NegativeNumber: cannot take the square root of -4" in out
    # describe: signatures and docstrings; invoke by name.
    assert "add(a: float, b: float = 1) -> float" in out
    assert "Return a + b." in out
    assert "property total (read-only)" in out
    assert '>>> orb.invoke(calc, "divide", 10, 4)\n  2.5\n' in out
    # An object exported on the fly is collected once the client drops its proxy.
    assert ">>> memory = calc.memory(); memory.store(42); memory.recall()\n  42\n" in out
    assert "{'total': 5, 'pinned': 4, 'implicit': 1, 'collected': 0}" in out
    assert ">>> del memory\n  >>> inspector.objects()\n  {'total': 4, 'pinned': 4, 'implicit': 0, " \
        "'collected': 1}" in out
    # Certificates from orb certs; one call over mutual TLS, one refused without a certificate.
    assert "$ orb certs issue-client --dir " in out and "--name tour-client" in out
    assert "secure      orbs://127.0.0.1:" in out
    assert "'certificate': 'tour-client'}" in out
    assert "orb.security.TLSError: TLS: the server at 127.0.0.1:" in out
    assert "requires a client certificate" in out
    # Clean shutdown of the server and the closing summary.
    assert "All 9 client steps passed." in out
    # the naming daemon, found by mDNS, and names resolved
    assert "advertising _orb-naming._tcp.local." in out
    assert "naming service found by mDNS at orb://127.0.0.1:" in out
    assert "['tour/calculator', 'tour/inspector', 'tour/ticker']" in out
    assert "orb-naming stopped cleanly (exit status 0)" in out
    assert "stopped cleanly (exit status 0)" in out
    assert "The tour is complete" in out


@pytest.mark.timeout(30)
def test_tour_fails_loudly_when_a_step_fails(tmp_path: Path) -> None:
    # The client pointed at a naming service that is not there: it says so, exit status 1.
    env = {**os.environ, "ORB_NAMING": "127.0.0.1:1"}
    result = subprocess.run(
        [sys.executable, str(DEMOS / "tour_client.py"),
         "calculator=orb://127.0.0.1:1/00", "ticker=orb://127.0.0.1:1/00",
         "inspector=orb://127.0.0.1:1/00"],
        cwd=tmp_path, capture_output=True, text=True, timeout=20, env=env, check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "STEP FAILED: cannot resolve the tour's objects by name: CommunicationError" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
