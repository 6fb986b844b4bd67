"""A child process whose stdout is read line by line, each read bounded in time.

Shared by the test suites that start daemons and servers as real processes
and wait for the lines they print (never a sleep).
"""

from __future__ import annotations

import os
import selectors
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from child_env import clean_env

#: How much of the end of stderr a failure message shows.
STDERR_TAIL = 8000
#: How many of the last stdout lines a failure message shows.
STDOUT_TAIL = 20


class LineProcess:
    """A process started with pipes; ``readline`` and ``read_until`` have deadlines.

    ``env`` defaults to :func:`child_env.clean_env` (none of the caller's
    ``ORB_*`` variables, mDNS on loopback); ``prefix`` is put before ``argv``
    (e.g. ``ip netns exec NAME``).
    stderr goes to a file, ``log`` if given (kept after the test) or else an
    anonymous one: a child logging a lot never stalls on a pipe nobody reads,
    and a failure shows what it wrote so far even while it still runs.
    Every stdout line read is kept in ``lines``.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        prefix: Sequence[str] = (),
        log: str | os.PathLike[str] | None = None,
    ) -> None:
        if env is None:
            env = clean_env()
        self.argv = [*prefix, *argv]
        self.name = shlex.join(argv)
        self.log = Path(log) if log is not None else None
        # Closed in _close.
        self._stderr = open(self.log, "w+b") if self.log else tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(
            self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            cwd=cwd, env=dict(env),
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._stderr_at_close: str | None = None
        self.lines: list[str] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send_signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stderr_text(self) -> str:
        """Everything written to stderr so far."""
        if self._stderr_at_close is not None:
            return self._stderr_at_close
        fd = self._stderr.fileno()
        # pread leaves the file offset, which the child shares, where it is.
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    def readline(self, timeout: float = 10.0) -> str:
        """The next line printed; fails (showing its output) when none comes in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise AssertionError(self.explain(f"printed no line within {timeout}s"))
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(self.explain(self._ended()))
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        text = line.decode().rstrip("\r")
        self.lines.append(text)
        return text

    def read_until(self, wanted: str | Callable[[str], bool], timeout: float = 15.0) -> list[str]:
        """Lines up to and including the first that equals ``wanted`` (or that it accepts)."""
        accept = wanted if callable(wanted) else wanted.__eq__
        deadline = time.monotonic() + timeout
        start = len(self.lines)
        while not accept(self.readline(max(deadline - time.monotonic(), 0.01))):
            pass
        return self.lines[start:]

    def _ended(self) -> str:
        try:
            return f"exited with {self.proc.wait(5)}"
        except subprocess.TimeoutExpired:
            return "closed its stdout"

    def rest(self, timeout: float = 10.0) -> str:
        """Everything it prints (not yet read) until it exits."""
        out, _ = self.proc.communicate(timeout=timeout)
        return (self._buffer + (out or b"")).decode()

    def explain(self, what: str) -> str:
        """``what`` happened to the process, with the end of its stdout and stderr."""
        shown = self.lines[-STDOUT_TAIL:]
        stdout = "\n".join(shown) + (f"\n{self._buffer.decode(errors='replace')}" if self._buffer else "")
        stderr = self.stderr_text()
        if len(stderr) > STDERR_TAIL:
            stderr = f"[... {len(stderr) - STDERR_TAIL} characters before]\n{stderr[-STDERR_TAIL:]}"
        where = f" (all of it in {self.log})" if self.log else ""
        return (
            f"{self.name}: {what}\n"
            f"--- stdout, last {len(shown)} of {len(self.lines)} lines read ---\n{stdout}\n"
            f"--- stderr{where} ---\n{stderr}"
        )

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
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()
        if not self._stderr.closed:
            self._stderr_at_close = self.stderr_text()
            self._stderr.close()
