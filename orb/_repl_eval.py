"""Running what the REPL user typed: compile, execute, show results and errors.

Input is compiled with ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT``, so ``await``
works at the prompt: code that awaits compiles to a coroutine, run as a
task on the session's event loop. The loop runs in the main thread for the
whole session, the prompt included, so tasks the user starts keep running
between prompts and ``asyncio`` calls work in plain statements too (as in
``python -m asyncio``). Plain code runs directly, so Ctrl-C interrupts it;
the session's driver turns Ctrl-C during awaited code into
:meth:`Evaluator.interrupt`.

Each statement of an input runs in "single" mode, so every expression
statement shows its value, as in the standard REPL. Errors never end the
session: they print with their traceback, trimmed of the REPL's own frames
and, for failures reported by orb (remote exceptions, lost connections),
of orb's internal frames; a remote exception's traceback prints above the
local one.
"""

from __future__ import annotations
import __future__

import ast
import asyncio
import builtins
import codeop
import inspect
import linecache
import os
import pprint
import sys
import traceback
import types
from typing import Any, TextIO

from ._errors import OrbError
from ._interface import Interface
from ._render import render_interface

_FUTURE_FLAGS = 0
for _name in __future__.all_feature_names:
    _FUTURE_FLAGS |= getattr(__future__, _name).compiler_flag
del _name

#: orb's packages, whose frames are hidden from failures orb reports.
_ORB_PACKAGES = ("orb", "orb.naming", "orb.gc", "orb.security")


class Evaluator:
    """Compiles and runs REPL input in ``namespace``; writes results and errors to ``out``."""

    def __init__(self, namespace: dict[str, Any], out: TextIO | None = None) -> None:
        self.namespace = namespace
        self._out = out
        self._compiler = codeop.CommandCompiler()
        self._compiler.compiler.flags |= ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        self._count = 0
        self._task: asyncio.Future[Any] | None = None
        self._interrupted = False

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    # -- input ------------------------------------------------------------

    def is_complete(self, source: str) -> bool:
        """Whether ``source`` should run now rather than wait for more lines.

        Complete statements run; so does broken input (to show the error)
        and a block ended by an empty line.
        """
        if not source.strip():
            return True
        lines = source.split("\n")
        if len(lines) > 1 and not lines[-1].strip():
            return True
        try:
            return self._compiler(source, "<input>", "single") is not None
        except (SyntaxError, OverflowError, ValueError):
            return True

    async def run(self, source: str) -> None:
        """Run one input: every statement in order, stopping at the first error."""
        if not source.strip():
            return
        self._count += 1
        filename = f"<input-{self._count}>"
        # Registered so tracebacks show the lines the user typed.
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        try:
            tree = compile(source, filename, "exec", self._flags | ast.PyCF_ONLY_AST, dont_inherit=True)
        except (SyntaxError, OverflowError, ValueError) as exc:
            self.show_exception(exc, syntax=True)
            return
        for statement in tree.body:
            try:
                code = compile(
                    ast.Interactive(body=[statement]), filename, "single", self._flags,
                    dont_inherit=True,
                )
            except (SyntaxError, OverflowError, ValueError) as exc:
                self.show_exception(exc, syntax=True)
                return
            self._compiler.compiler.flags |= code.co_flags & _FUTURE_FLAGS
            if not await self._execute(code):
                return

    @property
    def _flags(self) -> int:
        return self._compiler.compiler.flags

    async def _execute(self, code: types.CodeType) -> bool:
        try:
            if code.co_flags & inspect.CO_COROUTINE:
                self._task = asyncio.ensure_future(types.FunctionType(code, self.namespace)())
                try:
                    await self._task
                finally:
                    self._task = None
            else:
                exec(code, self.namespace)  # noqa: S102 - running what the user typed is the point
        except SystemExit:
            raise
        except asyncio.CancelledError as cancelled:
            shown: BaseException = cancelled
            if self._interrupted:
                self._interrupted = False
                shown = KeyboardInterrupt()
            self.show_exception(shown)
            return False
        except BaseException as exc:  # noqa: BLE001 - any error, Ctrl-C included, is shown
            self.show_exception(exc)
            return False
        return True

    def interrupt(self) -> bool:
        """Cancel the awaited code that is running, as Ctrl-C; False when there is none."""
        task = self._task
        if task is None or task.done():
            return False
        self._interrupted = True
        task.cancel()
        return True

    # -- output -------------------------------------------------------------

    def displayhook(self, value: Any) -> None:
        """Show an expression's value: interfaces as help pages, the rest pretty-printed."""
        if value is None:
            return
        builtins._ = None  # type: ignore[attr-defined]
        try:
            text = show_value(value)
        except Exception as exc:  # noqa: BLE001 - a failing repr must not end the session
            self.show_exception(exc)
            return
        self.out.write(text + "\n")
        self.out.flush()
        builtins._ = value  # type: ignore[attr-defined]

    def show_exception(self, exc: BaseException, *, syntax: bool = False) -> None:
        """Print an exception the way the standard REPL does, minus machinery frames."""
        if syntax or isinstance(exc, KeyboardInterrupt):
            text = "".join(traceback.format_exception_only(type(exc), exc))
        else:
            text = format_exception(exc)
        self.out.write(text)
        self.out.flush()


def show_value(value: Any) -> str:
    """The text the REPL shows for a value."""
    if isinstance(value, Interface):
        return render_interface(value)
    return pprint.pformat(value)


def format_exception(exc: BaseException) -> str:
    """``exc`` with its chained causes, starting at the user's input."""
    report = traceback.TracebackException(
        type(exc), exc, _from_input(exc.__traceback__), compact=True
    )
    if _reported_by_orb(exc):
        report.stack = traceback.StackSummary.from_list(
            [frame for frame in report.stack if not _is_orb_frame(frame.filename)]
        )
    return "".join(report.format())


def _from_input(tb: types.TracebackType | None) -> types.TracebackType | None:
    """The traceback from the first frame of the user's input on (the REPL's frames cut)."""
    current = tb
    while current is not None:
        if current.tb_frame.f_code.co_filename.startswith("<input-"):
            return current
        current = current.tb_next
    return tb


def _reported_by_orb(exc: BaseException) -> bool:
    return isinstance(exc, OrbError) or getattr(exc, "remote_traceback", None) is not None


def _is_orb_frame(filename: str) -> bool:
    path = os.path.abspath(filename)
    return any(path.startswith(directory + os.sep) for directory in _orb_directories())


def _orb_directories() -> list[str]:
    directories = []
    for name in _ORB_PACKAGES:
        module = sys.modules.get(name)
        if module is not None and module.__file__:
            directories.append(os.path.dirname(os.path.abspath(module.__file__)))
    return directories


