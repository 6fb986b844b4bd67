"""Start benchmark processes (servers, client workers) and talk to them by lines."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from typing import Any

#: The repository root, so ``python -m bench...`` finds the bench package.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Process:
    """A ``python -m MODULE ARGS...`` child that prints JSON lines.

    It stops when its standard input closes (see :meth:`stop`), so no
    child outlives the harness.
    """

    def __init__(self, module: str, *args: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
        # stderr goes to a file: a pipe nobody drains could block the child.
        self._stderr_file = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            cwd=ROOT,
            env=env,
        )
        self._selector = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        self._selector.register(self.proc.stdout, selectors.EVENT_READ)
        self._buffer = b""

    def read(self, timeout: float) -> Any:
        """The next JSON line the process printed; raises RuntimeError after ``timeout``."""
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._selector.select(remaining):
                self.stop()
                raise RuntimeError(f"{self._name()} printed nothing within {timeout:g}s")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise RuntimeError(f"{self._name()} exited: {self._stderr()}")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def write(self, message: Any) -> None:
        """Send one JSON line to the process."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        self.proc.stdin.flush()

    def stop(self, timeout: float = 5.0) -> None:
        """Close its input and wait for it to exit (killing it if it does not)."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._selector.close()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr_file.close()

    def _name(self) -> str:
        return " ".join(self.proc.args[2:])  # type: ignore[index]

    def _stderr(self) -> str:
        self.proc.wait()
        self._stderr_file.seek(0)
        return self._stderr_file.read().decode(errors="replace")[-2000:]


class Server(Process):
    """The echo server of one system (``bench.servers``); ``address`` is where it listens."""

    def __init__(self, system: str, directory: str, timeout: float = 30.0) -> None:
        super().__init__("bench.servers", system, directory)
        self.system = system
        info = self.read(timeout)
        self.address: str = info["address"]
        self.pid: int = info["pid"]
