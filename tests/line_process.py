"""A child process whose stdout is read line by line, each read bounded in time.

Shared by the test suites that start daemons and servers as real processes
and wait for the lines they print (never a sleep).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence


class LineProcess:
    """A process started with pipes; ``readline`` and ``read_until`` have deadlines.

    ``env`` defaults to this process's environment without orb's ``ORB_*``
    variables; ``prefix`` is put before ``argv`` (e.g. ``ip netns exec NAME``).
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
    ) -> None:
        if env is None:
            env = {k: v for k, v in os.environ.items() if not k.startswith("ORB_")}
        self.proc = subprocess.Popen(
            [*prefix, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=cwd, env=dict(env),
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""

    def readline(self, timeout: float = 10.0) -> str:
        """The next line printed; fails (showing stderr) when none comes in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise AssertionError(f"no line within {timeout}s{self._stderr()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"process exited (code {self.proc.wait()}){self._stderr()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def read_until(self, wanted: str | Callable[[str], bool], timeout: float = 15.0) -> list[str]:
        """Lines up to and including the first that equals ``wanted`` (or that it accepts)."""
        accept = wanted if callable(wanted) else wanted.__eq__
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self.readline(max(deadline - time.monotonic(), 0.01))
            lines.append(line)
            if accept(line):
                return lines

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        return ":\n" + self.proc.stderr.read().decode(errors="replace")

    def kill(self) -> None:
        """SIGKILL (no goodbye, like a crash) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._close()

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
        self._close()
        return self.proc.returncode

    def _close(self) -> None:
        self._selector.close()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
