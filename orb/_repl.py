"""``orb repl``: an interactive Python session connected to the naming service.

Line editing is prompt_toolkit's: a completion menu that shows remote
signatures, multi-line input (Enter runs a complete statement and
continues an incomplete one, as in the standard REPL), history kept in a
file across sessions and searchable with Ctrl-R, and suggestions from
history (→ accepts). When stdin is not a terminal, input is read line by
line with no prompt, so ``orb repl < script`` works.

One asyncio event loop runs in the main thread for the whole session, the
prompt included (``prompt_async``), so ``await`` works at the prompt and
tasks keep running between inputs. Ctrl-C raises KeyboardInterrupt in the
main thread: plain code catches it where it runs; awaited code is
cancelled by the driver (:meth:`Session._drive`).

The history file is ``--history``, else ``$ORB_REPL_HISTORY``, else
``repl_history`` in orb's state directory (``$XDG_STATE_HOME/orb``,
default ``~/.local/state/orb``; ``%LOCALAPPDATA%\\orb`` on Windows).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
from collections.abc import Iterator
from typing import Any, Protocol, TextIO

from prompt_toolkit import PromptSession
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import Completer as PromptCompleter
from prompt_toolkit.completion import Completion, ThreadedCompleter
from prompt_toolkit.enums import DEFAULT_BUFFER
from prompt_toolkit.filters import has_focus
from prompt_toolkit.history import FileHistory, History, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.key_binding.bindings.completion import generate_completions
from prompt_toolkit.shortcuts import CompleteStyle

import orb

from ._cli_support import (
    CommandError,
    NamingClient,
    NamingLocation,
    failure,
    locate_naming,
    make_broker,
    naming_options,
    tls_config,
)
from ._errors import CommunicationError
from ._proxy import call_timeout
from ._repl_complete import Completer
from ._repl_eval import Evaluator
from ._repl_namespace import HELPERS, build_namespace

#: Environment variable naming the history file.
HISTORY_ENV = "ORB_REPL_HISTORY"
#: Names shown in the banner, at most.
BANNER_NAMES = 12
#: Seconds the banner waits for the naming service.
BANNER_TIMEOUT = 5.0


class Reader(Protocol):
    async def read(self) -> str:
        """The next input to run; EOFError at the end, KeyboardInterrupt to discard a line."""


def main(args: argparse.Namespace) -> int:
    """Run the REPL until the user leaves; returns the exit code."""
    options = naming_options(args)
    # Found before the broker is made, so orb.resolve() in the session uses it too.
    location: NamingLocation | None = None
    problem: Exception | None = None
    try:
        location = locate_naming(options)
    except CommunicationError as exc:
        problem = exc
    try:
        tls = tls_config(args)
        broker = make_broker(
            naming=location.address if location else None, timeout=args.timeout, tls=tls,
            listen=args.listen,
        )
    except CommandError as exc:
        print(f"orb: {exc}", file=sys.stderr)
        return exc.code
    try:
        naming = NamingClient(broker, options, location)
        session = Session(broker, naming, history_file=args.history or default_history_path())
        return session.run(problem=problem)
    finally:
        broker.close()


class Session:
    """One REPL session: namespace, evaluator and line reader."""

    def __init__(self, broker: orb.ORB, naming: NamingClient, *, history_file: str) -> None:
        self.broker = broker
        self.naming = naming
        self.namespace = build_namespace(broker, naming)
        self.evaluator = Evaluator(self.namespace)
        self.completer = Completer(self.namespace, naming)
        self.history_file = history_file

    def run(self, stdin: TextIO | None = None, problem: Exception | None = None) -> int:
        """Show the banner, then read and run input until the user leaves; the exit code.

        ``problem`` is why the naming service could not be found, if it could not.
        """
        stdin = stdin or sys.stdin
        print(banner(self.naming, problem), flush=True)
        reader: Reader
        if stdin.isatty() and sys.stdout.isatty():
            reader = PromptReader(self.evaluator, self.completer, self.history_file)
        else:
            reader = PlainReader(self.evaluator, stdin)
        saved_hook = sys.displayhook
        sys.displayhook = self.evaluator.displayhook
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return self._drive(loop, reader)
        finally:
            sys.displayhook = saved_hook
            _close_loop(loop)

    def _drive(self, loop: asyncio.AbstractEventLoop, reader: Reader) -> int:
        """Run the session on ``loop``; Ctrl-C stops what runs, never the session.

        Ctrl-C raises KeyboardInterrupt wherever the main thread is. In plain
        code it is caught where the code runs; while the loop waits for
        awaited code it escapes the loop, lands here, and cancels that code.
        """
        while True:
            session = loop.create_task(self._session(reader))
            while True:
                try:
                    return loop.run_until_complete(session)
                except KeyboardInterrupt:
                    if session.done():  # it hit the session itself: start over
                        if not session.cancelled():
                            session.exception()  # retrieved: nothing to log later
                        print("KeyboardInterrupt", flush=True)
                        break
                    self.evaluator.interrupt()
                except SystemExit as exc:  # raised by awaited code
                    return _exit_code(exc)

    async def _session(self, reader: Reader) -> int:
        while True:
            try:
                source = await reader.read()
            except KeyboardInterrupt:
                continue
            except EOFError:
                if isinstance(reader, PromptReader):
                    print(flush=True)  # leave the prompt's line
                return 0
            try:
                await self.evaluator.run(source)
            except SystemExit as exc:
                return _exit_code(exc)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel the tasks the user left running and close the loop."""
    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            loop.run_until_complete(asyncio.wait(tasks, timeout=2))
        loop.run_until_complete(loop.shutdown_asyncgens())
    except BaseException:  # noqa: BLE001, S110 - the session is over; nothing to save
        pass
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def banner(naming: NamingClient, problem: Exception | None = None) -> str:
    """Where the session is connected and which names it found."""
    lines = [f"orb {orb.__version__} REPL, Python {platform.python_version()}"]
    try:
        if problem is not None:
            raise problem
        with call_timeout(BANNER_TIMEOUT):
            service = naming.service()
            info = service.info()
            names = [entry["name"] for entry in service.list("")]
    except Exception as exc:  # noqa: BLE001 - the REPL starts without a naming service too
        known = failure(exc)
        reason = known[1] if known else f"{type(exc).__name__}: {exc}"
        lines.append(f"naming service: not connected ({reason})")
        lines.append("  ls() and resolve() try again; proxy(uri) works without it")
    else:
        location = naming.location
        assert location is not None
        lines.append(
            f"naming service: {location.address} (from {location.source}), "
            f"{info.get('bindings', '?')} binding(s)"
        )
        shown = "  ".join(names[:BANNER_NAMES]) or "(none bound)"
        if len(names) > BANNER_NAMES:
            shown += f"  ... and {len(names) - BANNER_NAMES} more: ls()"
        lines.append(f"names: {shown}")
    lines.append("helpers: " + "  ".join(HELPERS))
    lines.append("top-level await works; Tab completes; Ctrl-D exits")
    return "\n".join(lines)


def default_history_path() -> str:
    """``$ORB_REPL_HISTORY``, else ``repl_history`` in orb's state directory."""
    from_env = os.environ.get(HISTORY_ENV, "").strip()
    if from_env:
        return from_env
    if os.name == "nt":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser(r"~\AppData\Local")
    else:
        base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "orb", "repl_history")


class PlainReader:
    """Reads input from a non-terminal stream, a statement (or block) at a time."""

    def __init__(self, evaluator: Evaluator, stream: TextIO) -> None:
        self._evaluator = evaluator
        self._stream = stream

    async def read(self) -> str:
        return await asyncio.get_running_loop().run_in_executor(None, self._read)

    def _read(self) -> str:
        lines: list[str] = []
        while True:
            line = self._stream.readline()
            if not line:
                if lines:
                    return "\n".join(lines)
                raise EOFError
            lines.append(line.rstrip("\n"))
            source = "\n".join(lines)
            if self._evaluator.is_complete(source):
                return source


class PromptReader:
    """Reads input with prompt_toolkit: completion menu, multi-line editing, file history."""

    def __init__(self, evaluator: Evaluator, completer: Completer, history_file: str) -> None:
        self._session: PromptSession[str] = PromptSession(
            history=_history(history_file),
            completer=ThreadedCompleter(_PromptCompleter(completer)),
            complete_while_typing=False,
            complete_style=CompleteStyle.COLUMN,
            auto_suggest=AutoSuggestFromHistory(),
            key_bindings=_key_bindings(evaluator),
            multiline=True,
            prompt_continuation=lambda width, line_number, soft_wrap: "... ",
        )

    async def read(self) -> str:
        return await self._session.prompt_async(">>> ")


def _history(path: str) -> History:
    try:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        print(f"orb: history is not saved: cannot write {path}: {exc.strerror}", file=sys.stderr)
        return InMemoryHistory()
    return FileHistory(path)


def _key_bindings(evaluator: Evaluator) -> KeyBindings:
    bindings = KeyBindings()
    editing = has_focus(DEFAULT_BUFFER)  # not while searching history (Ctrl-R)

    @bindings.add("enter", filter=editing)
    def _enter(event: KeyPressEvent) -> None:
        """Run complete input; continue incomplete input on a new, indented line."""
        buffer = event.current_buffer
        state = buffer.complete_state
        if state is not None and state.current_completion is not None:
            buffer.complete_state = None  # keep the chosen completion, close the menu
            return
        document = buffer.document
        at_end = not document.text_after_cursor.strip()
        if (at_end or "\n" not in buffer.text) and evaluator.is_complete(buffer.text):
            buffer.validate_and_handle()
            return
        buffer.insert_text("\n" + _indent_after(document.current_line_before_cursor))

    @bindings.add("tab", filter=editing)
    def _tab(event: KeyPressEvent) -> None:
        """Indent at the start of a line, complete anywhere else."""
        buffer = event.current_buffer
        if buffer.complete_state is None and not buffer.document.current_line_before_cursor.strip():
            buffer.insert_text("    ")
        else:
            generate_completions(event)

    return bindings


def _indent_after(line: str) -> str:
    indent = line[: len(line) - len(line.lstrip())]
    return indent + "    " if line.rstrip().endswith(":") else indent


class _PromptCompleter(PromptCompleter):
    """prompt_toolkit's view of :class:`Completer`."""

    def __init__(self, completer: Completer) -> None:
        self._completer = completer

    def get_completions(self, document: Any, complete_event: Any) -> Iterator[Completion]:
        for candidate in self._completer.complete(document.text_before_cursor):
            yield Completion(
                candidate.text,
                start_position=-candidate.length,
                display=candidate.display,
                display_meta=candidate.meta,
            )
