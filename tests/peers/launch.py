"""Start peer processes and read what they print, with deadlines."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


class PeerProcess:
    """A running tests/peers script; ``info`` is the JSON line it printed first."""

    def __init__(self, script: str, *args: str, timeout: float = 10.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, script), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=HERE,
        )
        self._selector = selectors.DefaultSelector()
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""
        try:
            self.info: dict[str, Any] = json.loads(self.readline(timeout))
        except BaseException:
            self.kill()
            raise

    def readline(self, timeout: float = 10.0) -> str:
        """The next line the process printed; fails when none comes in time."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                raise AssertionError(f"peer printed no line within {timeout}s{self._stderr()}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"peer exited (code {self.proc.wait()}){self._stderr()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        return ":\n" + self.proc.stderr.read().decode(errors="replace")

    @property
    def uris(self) -> dict[str, str]:
        return self.info["uris"]

    @property
    def orb_id(self) -> bytes:
        return bytes.fromhex(self.info["orb_id"])

    def kill(self) -> None:
        """SIGKILL the process (no goodbye, like a crash) and reap it."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        self._close_pipes()

    def stop(self) -> None:
        """Close its stdin (it shuts down cleanly), or kill it if it lingers."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._close_pipes()

    def _close_pipes(self) -> None:
        self._selector.close()
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()
