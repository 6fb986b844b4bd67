"""Run helper processes and read their output lines with deadlines."""

from __future__ import annotations

import os
import sys

from line_process import LineProcess

__all__ = ["HERE", "LineProcess", "clean_env", "python"]

HERE = os.path.dirname(os.path.abspath(__file__))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without orb's discovery and TLS variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORB_")}
    env.update(extra)
    return env


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
