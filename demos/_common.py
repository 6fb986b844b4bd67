"""What the demos share: child processes, their environment, certificates, the run loop.

Every demo starts real processes on this machine and talks to them over
loopback only. mDNS is pinned to 127.0.0.1 (``ORB_MDNS_INTERFACES``) and
each run advertises in a naming domain of its own (``ORB_NAMING_DOMAIN``),
so nothing leaves the machine and two demos running at once do not find
each other's naming service.

* :class:`Process` runs a child Python script and reads its output line by
  line on a thread, so a demo waits for a given line with a deadline.
* :class:`Cast` holds a demo's processes and kills whatever still runs
  when the demo ends early.
* :func:`make_certificates` runs ``orb certs`` to make a CA and certificates.
* :func:`run_demo` prints the title, runs the stages in order and turns
  the outcome into the exit status.
"""

from __future__ import annotations

import io
import os
import queue
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from tourkit import StepFailed, Steps, heading, say

DEMOS = Path(__file__).resolve().parent
T = TypeVar("T")


def demo_env(demo: str, **extra: str) -> dict[str, str]:
    """The environment for a demo's processes: mDNS on loopback, in a domain of its own.

    orb's own variables from the caller's shell (``ORB_NAMING``, ``ORB_TLS_*``)
    are left out so they cannot point the demo somewhere else.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORB_")}
    env["ORB_MDNS_INTERFACES"] = "127.0.0.1"
    env["ORB_NAMING_DOMAIN"] = f"{demo}-{os.getpid()}"
    env.update(extra)
    return env


def use_env(env: dict[str, str]) -> None:
    """Make ``env`` this process's environment too (for the orb calls a demo makes itself)."""
    for key in [k for k in os.environ if k.startswith("ORB_")]:
        del os.environ[key]
    os.environ.update(env)


class Process:
    """A child Python process whose standard output is read line by line."""

    def __init__(self, name: str, argv: Iterable[str], *, env: dict[str, str],
                 cwd: Path = DEMOS) -> None:
        self.name = name
        self.popen = subprocess.Popen(
            [sys.executable, "-u", *argv],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=cwd, env=env,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.ended = False
        threading.Thread(target=self._read, name=f"read {name}", daemon=True).start()

    @property
    def pid(self) -> int:
        return self.popen.pid

    def _read(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output

    def expect(self, match: str | Callable[[str], bool], timeout: float) -> list[str]:
        """Lines up to and including the first one that is (or satisfies) ``match``.

        Fails the step when the process ends or stays silent for too long.
        """
        wanted = match if callable(match) else (lambda line: line == match)
        what = match if isinstance(match, str) else "the expected line"
        deadline = time.monotonic() + timeout
        lines: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise StepFailed(f"{self.name} did not print {what!r} within {timeout:.0f} s"
                                 + _tail(lines)) from None
            if line is None:
                self.ended = True
                raise StepFailed(f"{self.name} exited (status {self.popen.wait()}) "
                                 f"before printing {what!r}" + _tail(lines))
            lines.append(line)
            if wanted(line):
                return lines

    def read_until(self, last: str, timeout: float) -> list[str]:
        """The lines printed before ``last`` (which is left out)."""
        return self.expect(last, timeout)[:-1]

    def drain(self) -> list[str]:
        """The lines printed so far and not read yet, without waiting."""
        lines: list[str] = []
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return lines
            if line is None:
                self.ended = True
                return lines
            lines.append(line)

    def send(self, line: str) -> None:
        """Write one line to its standard input."""
        assert self.popen.stdin is not None
        self.popen.stdin.write(line + "\n")
        self.popen.stdin.flush()

    def close_input(self) -> None:
        """Close its standard input: the demos' children take that as the signal to finish."""
        assert self.popen.stdin is not None
        try:
            self.popen.stdin.close()
        except OSError:  # it is gone already
            pass

    def stop(self, timeout: float = 10.0) -> int:
        """Close its standard input and wait for it to exit; its exit status."""
        self.close_input()
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise StepFailed(f"{self.name} did not exit within {timeout:.0f} s; killed it") from None

    def kill(self) -> None:
        """SIGKILL: the process dies at once, with no chance to say goodbye."""
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()

    @property
    def running(self) -> bool:
        return self.popen.poll() is None


def _tail(lines: list[str]) -> str:
    shown = lines[-5:]
    return "; its last lines:\n" + "\n".join(f"    {line}" for line in shown) if shown else ""


class Cast:
    """The processes of one demo run, by name, started in order."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: dict[str, Process] = {}

    def start(self, name: str, *argv: str, cwd: Path = DEMOS) -> Process:
        process = self.processes[name] = Process(name, argv, env=self.env, cwd=cwd)
        return process

    def __getitem__(self, name: str) -> Process:
        return self.processes[name]

    def cleanup(self) -> None:
        """Kill whatever is still running (after a failure or an interrupt)."""
        for process in reversed(self.processes.values()):
            process.kill()


def start_naming(cast: Cast, *options: str, timeout: float = 20.0) -> tuple[Process, str]:
    """Start ``orb-naming`` (``python -m orb.naming``) in memory; its process and endpoint.

    Its start-up lines are printed indented.
    """
    daemon = cast.start("orb-naming", "-m", "orb.naming", "--memory", "--log-level", "WARNING",
                        *options)
    endpoint = ""
    for line in daemon.read_until("ready", timeout):
        print(f"  {line}")
        if line.startswith("orb-naming listening on "):
            endpoint = endpoint or line.rsplit(" ", 1)[1]
    if not endpoint:
        raise StepFailed("orb-naming did not say where it listens")
    return daemon, endpoint


def stop_naming(daemon: Process, timeout: float = 10.0) -> None:
    """SIGTERM: orb-naming withdraws its mDNS record, closes its store and exits 0."""
    daemon.popen.terminate()
    daemon.read_until("orb-naming stopped", timeout)
    status = daemon.popen.wait(timeout)
    if status != 0:
        raise StepFailed(f"orb-naming exited with status {status}")
    print(f"  orb-naming stopped cleanly (exit status {status})")


def wait_for(condition: Callable[[], T], timeout: float, what: str, every: float = 0.05) -> T:
    """Poll ``condition`` until it returns something true; fail the step after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise StepFailed(f"{what}: not seen within {timeout:.0f} s")
        time.sleep(every)


# -- certificates ---------------------------------------------------------------


def orb_command() -> list[str]:
    """How to run the ``orb`` command: its script next to this Python, else the module."""
    script = Path(sys.executable).parent / "orb"
    if script.exists():
        return [str(script)]
    found = shutil.which("orb")
    return [found] if found else [sys.executable, "-m", "orb._cli"]


def run_orb(*args: str, cwd: Path, quiet: bool = False) -> list[str]:
    """Run ``orb <args>`` in ``cwd``, show the command line and return its output lines."""
    return run_orb_all([list(args)], cwd=cwd, quiet=quiet)[0]


def run_orb_all(commands: list[list[str]], *, cwd: Path, quiet: bool = False) -> list[list[str]]:
    """Run several ``orb`` commands at once; each one's output lines, in order.

    Each command line is shown, with the first line of its output.
    """
    running = [subprocess.Popen([*orb_command(), *args], cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for args in commands]
    outputs = []
    for args, process in zip(commands, running):
        try:
            out, err = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise StepFailed(f"orb {' '.join(args)} did not finish within 60 s") from None
        print(f"  $ orb {shlex.join(args)}")
        if process.returncode != 0:
            raise StepFailed(f"orb {' '.join(args[:2])} exited with status {process.returncode}: "
                             f"{err.strip()}")
        lines = out.splitlines()
        if not quiet and lines:
            print(f"    {lines[0]}")
        outputs.append(lines)
    return outputs


class Certificates:
    """The files ``orb certs`` wrote into one directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = directory / "ca.pem"

    def cert(self, name: str) -> Path:
        return self.dir / f"{name}.pem"

    def key(self, name: str) -> Path:
        return self.dir / f"{name}.key"

    def tls(self, name: str | None, **options: Any) -> Any:
        """An ``orb.security.TLSConfig`` presenting ``name``'s certificate (None: no certificate)."""
        from orb.security import TLSConfig

        if name is None:
            return TLSConfig(ca=self.ca, **options)
        return TLSConfig(cert=self.cert(name), key=self.key(name), ca=self.ca, **options)


def make_certificates(directory: Path, clients: Iterable[str], *, ca_name: str = "demo CA",
                      server: bool = True) -> Certificates:
    """A CA, a server certificate for 127.0.0.1/localhost and one client certificate each.

    The commands are the ones a user types (the certificates after the CA
    are issued in parallel); their first output line is shown.
    """
    where = ["--dir", str(directory)]
    run_orb("certs", "init-ca", *where, "--name", ca_name, cwd=directory.parent)
    issue = [["certs", "issue-server", *where, "--ip", "127.0.0.1", "--host", "localhost"]]
    issue = issue if server else []
    issue += [["certs", "issue-client", *where, "--name", name] for name in clients]
    run_orb_all(issue, cwd=directory.parent)
    return Certificates(directory)


def short_id(orb_id: str | bytes) -> str:
    """The first 8 hex digits of an ORB id (as ``broker.stats()`` shows them)."""
    text = orb_id.hex() if isinstance(orb_id, bytes) else orb_id
    return text[:8]


# -- running a demo ---------------------------------------------------------------


def run_demo(title: str, intro: str, stages: Steps[Any], context: Any, outro: str,
             deadline: float = 90.0) -> int:
    """Run ``stages`` in order on ``context`` (which has a ``cast``); the exit status.

    The processes still running at the end (after a failure or Ctrl-C)
    are killed. 0 means every stage showed what it should. A demo still
    running after ``deadline`` seconds (something hangs) is stopped with
    exit status 1, its processes killed.
    """
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    started = time.monotonic()
    watchdog = threading.Timer(deadline, _give_up, (context.cast, deadline))
    watchdog.daemon = True
    watchdog.start()
    print(title.center(72))
    print("=" * 72)
    say(intro)
    try:
        failed = stages.run(context, label="{number}. {title}", rule="=", stop_on_failure=True)
    except KeyboardInterrupt:
        failed = 1
        print("\n  interrupted")
    finally:
        watchdog.cancel()
        context.cast.cleanup()
    heading("done", "=")
    if failed:
        say("The demo FAILED (see above).")
        return 1
    say(f"{outro} ({time.monotonic() - started:.1f} s)")
    return 0


def _give_up(cast: Cast, deadline: float) -> None:
    print(f"\n  The demo FAILED: still running after {deadline:.0f} s; stopping it.", flush=True)
    cast.cleanup()
    os._exit(1)
