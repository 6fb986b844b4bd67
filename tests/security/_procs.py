"""Run helper processes and read their output lines with deadlines."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence

HERE = os.path.dirname(os.path.abspath(__file__))


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without orb's discovery and TLS variables, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORB_")}
    env.update(extra)
    return env


class LineProcess:
    """A process whose stdout is read line by line, each read bounded in time."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                 prefix: Sequence[str] = ()) -> None:
        self.proc = subprocess.Popen(
            [*prefix, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=dict(env) if env is not None else clean_env(),
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""

    def readline(self, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise AssertionError(f"no line within {timeout}s{self._stderr()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"process exited ({self.proc.wait()}){self._stderr()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def read_until(self, wanted: str, timeout: float = 15.0) -> list[str]:
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self.readline(max(deadline - time.monotonic(), 0.01))
            lines.append(line)
            if line == wanted:
                return lines

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        return ":\n" + self.proc.stderr.read().decode(errors="replace")

    def stop(self) -> int:
        """Close stdin, SIGTERM, and SIGKILL if it lingers; the exit status."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._selector.close()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
        return self.proc.returncode


def python(*args: str) -> list[str]:
    return [sys.executable, *args]
