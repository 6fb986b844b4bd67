"""Run helper processes and read their output lines with deadlines."""

from __future__ import annotations

import os
import sys

from child_env import clean_env
from line_process import LineProcess

__all__ = ["HERE", "LineProcess", "clean_env", "python"]

HERE = os.path.dirname(os.path.abspath(__file__))


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
