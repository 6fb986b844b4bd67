"""demos/ticker: an async generator streamed to 2,000 asyncio subscribers on one connection."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from demo_run import run_demo


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_ticker_demo_streams_to_two_thousand_subscribers(tmp_path: Path) -> None:
    out = run_demo("ticker/run.py", tmp_path, timeout=75)
    assert "market at orb://127.0.0.1:" in out
    # Every subscriber got all its quotes, in tick order, over one connection.
    assert re.search(r"\[subscribers\] 2000 subscribers, 1 connection: 20000 quotes in [\d.]+ s", out)
    assert "every subscriber got 10 quotes: True; ticks always increasing: True" in out
    # Streams closed early stopped their generators on the feed.
    assert "500 open-ended subscriptions closed after 3 quotes each: True" in out
    stats = ast.literal_eval(re.search(r">>> market\.stats\(\)\n  (\{.*\})", out).group(1))
    assert stats["active"] == 0
    assert stats["subscriptions"] == 2500
    assert stats["peak"] >= 1000
    assert "feed stopped cleanly (exit status 0)" in out
