"""demos/dgc: implicitly exported objects freed as clients drop proxies, die and exit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from demo_run import run_demo


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_dgc_demo_collects_every_session(tmp_path: Path) -> None:
    out = run_demo("dgc/run.py", tmp_path, timeout=45)
    # The server starts with only its pinned objects: the library and the DGC object.
    first, *_, last = re.findall(r"objects   (\{.*\})", out)
    assert first == last == "{'total': 2, 'pinned': 2, 'implicit': 0}"
    assert "objects   {'total': 8, 'pinned': 2, 'implicit': 6}" in out
    # Dropped proxies: cleaned and collected at once, with the hook's lines.
    for label in ("alice-1", "alice-2", "alice-3", "bob-1", "bob-2", "alice-4"):
        assert f"[server] session {label} collected: no client holds it any more" in out
    assert "orb.ObjectNotFound: object '" in out and "was collected by the distributed GC" in out
    # The killed client's sessions go within a few leases of the kill.
    seconds = float(re.search(r"collected (\d+\.\d) s after the kill", out).group(1))
    assert seconds < 10
    # alice's last session lived across several leases, renewed in the background.
    assert "[alice] session alice-4, read 2 time(s)" in out
    assert "server stopped cleanly (exit status 0)" in out
    assert "Every session was collected" in out
