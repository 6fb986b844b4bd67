"""Processes and a terminal for the CLI tests: the naming daemon, a server, the ``orb`` command.

Everything listens on loopback. :class:`Terminal` runs a program in a real
pseudo-terminal (pexpect) and keeps what a person would see on screen
(pyte, which also answers the program's cursor-position queries as a
terminal does).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Sequence
from typing import Any

import pexpect
import pyte
from child_env import clean_env
from line_process import LineProcess

HERE = os.path.dirname(os.path.abspath(__file__))


def orb_command() -> list[str]:
    """The installed ``orb`` console script, or ``python -m orb._cli`` when there is none."""
    script = os.path.join(os.path.dirname(sys.executable), "orb")
    if os.path.exists(script):
        return [script]
    return [sys.executable, "-m", "orb._cli"]


class NamingDaemon(LineProcess):
    """``python -m orb.naming`` on a free loopback port, in memory.

    ``endpoint`` is where it listens (``tcp://127.0.0.1:PORT`` unless
    ``listen`` says otherwise) and ``address`` its ``host:port``.
    """

    def __init__(self, *extra: str, listen: str = "tcp://127.0.0.1:0") -> None:
        super().__init__([
            sys.executable, "-m", "orb.naming", "--listen", listen, "--memory",
            *(extra or ("--no-mdns",)),
        ], env=clean_env())
        try:
            lines = self.read_until(lambda line: line == "ready")
        except BaseException:
            self.kill()
            raise
        prefix = "orb-naming listening on "
        self.endpoint = next(line for line in lines if line.startswith(prefix))[len(prefix):]
        self.address = self.endpoint.split("://", 1)[1]


class Server(LineProcess):
    """tests/cli/server.py bound to ``naming``; ``uris`` maps the names it bound to URIs."""

    def __init__(self, naming: str) -> None:
        super().__init__([sys.executable, os.path.join(HERE, "server.py"), "--naming", naming], cwd=HERE,
                         env=clean_env())
        try:
            self.uris: dict[str, str] = json.loads(self.readline())["uris"]
        except BaseException:
            self.kill()
            raise


def run_orb(*args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run the ``orb`` command to completion; stdout and stderr as text."""
    return subprocess.run(
        [*orb_command(), *args], capture_output=True, text=True, env=env or clean_env(),
        timeout=timeout, stdin=subprocess.DEVNULL, check=False,
    )


class _Screen(pyte.HistoryScreen):
    """A pyte screen that keeps scrolled-off lines and answers the program's queries."""

    reply: Callable[[str], None] = staticmethod(lambda data: None)

    def write_process_input(self, data: str) -> None:
        self.reply(data)


class Terminal:
    """A program in a pseudo-terminal, and the screen a person would see."""

    ROWS, COLUMNS = 60, 160

    def __init__(self, argv: Sequence[str], env: dict[str, str], *, cwd: str | None = None) -> None:
        self.screen = _Screen(self.COLUMNS, self.ROWS, history=100_000)
        self._stream = pyte.ByteStream(self.screen)
        self.child = pexpect.spawn(
            argv[0], list(argv[1:]), env=env, cwd=cwd, dimensions=(self.ROWS, self.COLUMNS),
        )
        self.screen.reply = self.child.send
        self.ended = False  # the program closed the terminal

    # -- keys ----------------------------------------------------------------

    def type(self, text: str) -> None:
        """Type ``text`` (use "\\t" for Tab and "\\r" for Enter)."""
        self.child.send(text)

    def enter(self, line: str = "") -> None:
        self.child.send(line + "\r")

    def control(self, key: str) -> None:
        self.child.sendcontrol(key)

    # -- what shows ----------------------------------------------------------

    def lines(self) -> list[str]:
        """Every line shown so far: those scrolled off the top, then the screen."""
        columns = self.screen.columns
        scrolled = [
            "".join(line[x].data for x in range(columns)).rstrip() for line in self.screen.history.top
        ]
        return scrolled + [line.rstrip() for line in self.screen.display]

    def row(self) -> int:
        """The cursor's line, counted in :meth:`lines`."""
        return len(self.screen.history.top) + self.screen.cursor.y

    def text(self, since: int = 0) -> str:
        """The non-empty lines from line ``since`` on, joined."""
        return "\n".join(line for line in self.lines()[since:] if line)

    def cooked(self) -> bool:
        """Whether the terminal is back in cooked mode: Ctrl-C sends SIGINT, not a key."""
        return bool(termios.tcgetattr(self.child.child_fd)[3] & termios.ISIG)

    def cursor_line(self) -> str:
        return self.screen.display[self.screen.cursor.y].rstrip()

    def wait_for(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) shows on screen; returns the match."""
        regex = re.compile(pattern, re.MULTILINE)
        return self.wait_until(lambda: regex.search(self.text()), f"/{pattern}/ on screen", timeout)

    def wait_for_prompt(self, timeout: float = 10.0) -> None:
        """Wait until the cursor sits after an empty ``>>>`` prompt."""
        self.wait_until(lambda: self.cursor_line() == ">>>", "an empty prompt", timeout)

    def wait_until(self, condition: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.ended:
                why = "the program ended" if self.ended else "timed out"
                raise AssertionError(f"{why} waiting for {what}; the screen shows:\n{self.text()}")
            self._pump(min(remaining, 0.1))

    def wait_exit(self, timeout: float = 10.0) -> int:
        """Wait for the program to end; its exit status."""
        deadline = time.monotonic() + timeout
        while not self.ended:
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {timeout}s; the screen shows:\n{self.text()}")
            self._pump(0.1)
        self.child.wait()
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else -self.child.signalstatus

    def _pump(self, timeout: float) -> None:
        try:
            data = self.child.read_nonblocking(65536, timeout=timeout)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            self.ended = True
            return
        self._stream.feed(data)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)
        self.child.close()

