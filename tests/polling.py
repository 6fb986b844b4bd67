"""Waiting, with a deadline, for state that another thread or process changes.

For what no event signals (a process's stats, a lease expiring elsewhere,
a count kept by a server): poll until the condition holds, and fail with a
message naming what was awaited when it does not in time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    condition: Callable[[], Any], what: str = "", timeout: float = 5.0, every: float = 0.01
) -> Any:
    """Poll ``condition`` until it returns a true value, and return that value.

    Raises AssertionError ("timed out after ... waiting for ``what``") after
    ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        time.sleep(every)
