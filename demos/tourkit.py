"""Helpers shared by the tour's processes: numbered steps, headings and checks.

A tour is a list of steps, each a function with a title and a docstring
that says what it shows. :class:`Steps` runs them in order, prints a
heading and the explanation before each, and counts the ones that failed,
so adding a step to a tour is writing one more decorated function.
"""

from __future__ import annotations

import sys
import textwrap
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

WIDTH = 72
Context = TypeVar("Context")


class StepFailed(Exception):
    """A step saw something other than what it demonstrates."""


def check(condition: object, message: str) -> None:
    """Fail the current step with ``message`` unless ``condition`` holds."""
    if not condition:
        raise StepFailed(message)


def say(text: str = "", indent: int = 0) -> None:
    """Print ``text`` wrapped to the tour's width (blank lines kept)."""
    prefix = " " * indent
    for paragraph in textwrap.dedent(text).strip("\n").split("\n\n"):
        print(textwrap.fill(" ".join(paragraph.split()), WIDTH, initial_indent=prefix,
                            subsequent_indent=prefix) if paragraph.strip() else "")


def show(expression: str, value: Any) -> Any:
    """Print an expression and its value the way the interactive prompt does."""
    print(f"  >>> {expression}")
    for line in repr(value).splitlines():
        print(f"  {line}")
    return value


def block(text: str, indent: int = 4) -> None:
    """Print preformatted text indented."""
    print(textwrap.indent(text.rstrip("\n"), " " * indent))


def heading(title: str, rule: str = "-") -> None:
    """A blank line and ``title`` in a rule of ``rule`` characters."""
    print()
    print(f"{rule * 2} {title} ".ljust(WIDTH, rule))


@dataclass
class Step(Generic[Context]):
    title: str
    run: Callable[[Context], None]


@dataclass
class Steps(Generic[Context]):
    """An ordered list of tour steps; decorate functions with :meth:`add`."""

    steps: list[Step[Context]] = field(default_factory=list)

    def add(self, title: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
        def register(run: Callable[[Context], None]) -> Callable[[Context], None]:
            self.steps.append(Step(title, run))
            return run

        return register

    def run(
        self,
        context: Context,
        *,
        label: str = "{number}. {title}",
        rule: str = "-",
        stop_on_failure: bool = False,
    ) -> int:
        """Run the steps in order; the number of steps that failed.

        Each heading is ``label`` formatted with the step's number and title,
        drawn with ``rule`` characters. With ``stop_on_failure`` the steps
        after a failed one are not run (use it when each step needs the
        previous one).
        """
        failed = 0
        for number, step in enumerate(self.steps, 1):
            heading(label.format(number=number, title=step.title), rule)
            if step.run.__doc__:
                say(step.run.__doc__)
                print()
            try:
                step.run(context)
            except Exception as exc:  # noqa: BLE001 - reported; one broken step hides no other
                failed += 1
                if isinstance(exc, StepFailed):
                    print(f"  STEP FAILED: {exc}")
                else:
                    print(f"  STEP FAILED: {type(exc).__name__}: {exc}")
                    block("".join(traceback.format_exception(exc)))
                if stop_on_failure:
                    break
            finally:
                sys.stdout.flush()
        return failed
