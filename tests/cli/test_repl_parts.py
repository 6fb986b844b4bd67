"""The REPL's parts in this process: completion, evaluation, and input from a pipe.

Completion runs against the real naming daemon and server processes; the
evaluator runs real code, awaits included.
"""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import orb
from orb._cli_support import NamingClient, NamingOptions
from orb._repl_complete import Completer, open_quote
from orb._repl_eval import Evaluator
from orb._repl_namespace import build_namespace

from .support import NamingDaemon, Server, clean_env, orb_command


@pytest.fixture
def session(naming: NamingDaemon, server: Server) -> Iterator[tuple[dict, Completer]]:
    """A REPL namespace and completer on a client broker, ``calc`` resolved."""
    with orb.ORB(naming=naming.address) as broker:
        client = NamingClient(broker, NamingOptions(naming=naming.address))
        namespace = build_namespace(broker, client)
        namespace["calc"] = client.resolve("demo/calc")
        namespace["numbers"] = [1, 2, 3]
        yield namespace, Completer(namespace, client)


def texts(completer: Completer, line: str) -> list[str]:
    return [c.text for c in completer.complete(line)]


# -- completion --------------------------------------------------------------


def test_names_complete_one_context_at_a_time(session: tuple[dict, Completer]) -> None:
    _, completer = session
    assert texts(completer, 'resolve("') == ["demo/"]
    assert texts(completer, 'x = resolve("demo/') == ["demo/chat/", 'demo/calc"', 'demo/vault"']
    assert texts(completer, "ls('demo/ch") == ["demo/chat/"]
    assert texts(completer, "describe('demo/chat/") == ["demo/chat/lobby'"]
    assert texts(completer, 'orb.resolve("demo/v') == ['demo/vault"']
    assert texts(completer, 'resolve("nothing/') == []


def test_name_candidates_show_the_last_part_and_the_type(session: tuple[dict, Completer]) -> None:
    _, completer = session
    by_text = {c.text: c for c in completer.complete('resolve("demo/')}
    assert (by_text['demo/calc"'].display, by_text['demo/calc"'].meta) == ("calc", "Calculator")
    assert (by_text["demo/chat/"].display, by_text["demo/chat/"].meta) == ("chat/", "context")
    assert by_text['demo/calc"'].length == len("demo/")


def test_remote_members_complete_with_signatures(session: tuple[dict, Completer]) -> None:
    _, completer = session
    candidates = {c.text: c.meta for c in completer.complete("calc.")}
    assert candidates == {
        "add": "(a: int, b: int) -> int",
        "divide": "(a: float, b: float) -> float",
        "echo": "(*args: Any, **kwargs: Any) -> dict[str, Any]",
        "fail": "(message: str) -> None",
        "reset": "() -> None  oneway",
        "total": "property",
        "wait": "(seconds: float) -> str",
    }
    assert texts(completer, "print(calc.d") == ["divide"]


def test_invoke_completes_names_then_methods(session: tuple[dict, Completer]) -> None:
    _, completer = session
    assert texts(completer, 'invoke("demo/ca') == ['demo/calc"']
    assert texts(completer, 'invoke("demo/calc", "ad') == ['add"']
    assert texts(completer, "invoke(calc, 'e") == ["echo'"]
    assert "total" not in [t.strip("'") for t in texts(completer, "invoke(calc, '")]


def test_local_names_and_attributes(session: tuple[dict, Completer]) -> None:
    _, completer = session
    assert texts(completer, "num") == ["numbers"]
    assert texts(completer, "numbers.app") == ["append"]
    assert "__len__" not in texts(completer, "numbers.")
    assert "__len__" in texts(completer, "numbers.__")
    assert "import" in texts(completer, "imp")
    assert "describe" in texts(completer, "desc")
    assert texts(completer, "orb.naming.naming_pro") == ["naming_proxy"]


def test_nothing_completes_where_it_would_guess(session: tuple[dict, Completer]) -> None:
    _, completer = session
    assert texts(completer, 'print("calc.') == []  # inside an ordinary string
    assert texts(completer, "f(x).ap") == []  # would have to call f
    assert texts(completer, "missing.") == []
    assert texts(completer, "") == []


def test_completion_gives_up_quietly_when_the_object_is_unreachable(
    session: tuple[dict, Completer], unused_port: int
) -> None:
    namespace, completer = session
    namespace["gone"] = orb.proxy(f"orb://127.0.0.1:{unused_port}/nothing")
    assert texts(completer, "gone.") == []


@pytest.mark.parametrize(
    ("text", "quote"),
    [
        ('resolve("ap', '"'),
        ("resolve('ap", "'"),
        ('"done" + "op', '"'),
        ('"done"', None),
        ('"escaped \\" still open', '"'),
        ("'''triple\nstill", "'''"),
        ("# a comment with a ' quote", None),
        ("x = 1  # it's\ny = '", "'"),
    ],
)
def test_open_quote(text: str, quote: str | None) -> None:
    assert open_quote(text) == quote


# -- evaluation ----------------------------------------------------------------


def run(evaluator: Evaluator, source: str) -> str:
    """Run ``source`` as one input; what the REPL printed."""
    out = io.StringIO()
    evaluator._out = out
    saved, sys.displayhook = sys.displayhook, evaluator.displayhook
    try:
        asyncio.run(evaluator.run(source))
    finally:
        sys.displayhook = saved
    return out.getvalue()


def test_input_is_complete_like_the_standard_repl() -> None:
    evaluator = Evaluator({})
    assert evaluator.is_complete("x = 1")
    assert not evaluator.is_complete("def f():")
    assert not evaluator.is_complete("def f():\n    return 1")
    assert evaluator.is_complete("def f():\n    return 1\n")
    assert not evaluator.is_complete("x = (1,")
    assert evaluator.is_complete("x = )")  # broken: run it to show the error
    assert not evaluator.is_complete("async with x:")
    assert evaluator.is_complete("await x")


def test_every_statement_shows_its_value_and_errors_stop_the_input() -> None:
    namespace: dict = {}
    evaluator = Evaluator(namespace)
    out = run(evaluator, "1 + 1\nx = 5\nx * 2\n1 / 0\nnever = True")
    assert out.splitlines()[:2] == ["2", "10"]
    assert out.rstrip().endswith("ZeroDivisionError: division by zero")
    assert 'File "<input-1>", line 4, in <module>' in out and "1 / 0" in out
    assert "_repl_eval" not in out  # the REPL's own frames are cut
    assert "never" not in namespace


def test_await_at_top_level() -> None:
    namespace: dict = {"asyncio": asyncio}
    evaluator = Evaluator(namespace)
    assert run(evaluator, "await asyncio.sleep(0, 'slept')") == "'slept'\n"
    assert run(evaluator, "result = [await asyncio.sleep(0, i) for i in range(3)]\nresult") == "[0, 1, 2]\n"


def test_await_orb_aio_calls(server: Server) -> None:
    pytest.importorskip("orb.aio")
    evaluator = Evaluator({"orb": orb})
    out = run(evaluator, "\n".join([
        "import orb.aio, asyncio",
        f"calc = await orb.aio.proxy({server.uris['demo/calc']!r})",
        "await asyncio.gather(*(calc.add(i, 100) for i in range(3)))",
    ]))
    assert out == "[100, 101, 102]\n"


def test_future_imports_carry_over_to_later_inputs() -> None:
    evaluator = Evaluator({})
    # The REPL's own modules use `from __future__ import annotations`; user code does not inherit it.
    assert "NameError: name 'undefined_name' is not defined" in run(
        evaluator, "def f(x: undefined_name): pass"
    )
    assert run(evaluator, "from __future__ import annotations") == ""
    assert run(evaluator, "def g(x: undefined_name): pass") == ""


def test_syntax_errors_show_without_a_traceback() -> None:
    out = run(Evaluator({}), "x = )")
    assert "Traceback" not in out and "SyntaxError" in out


# -- input from a pipe -----------------------------------------------------------


def test_repl_reads_a_script_from_a_pipe(naming: NamingDaemon, server: Server, tmp_path: Path) -> None:
    script = """\
calc = resolve("demo/calc")
for i in range(2):
    print('row', calc.add(i, 10))

calc.divide(1, 0)
len(stats()['endpoints'])
print(orb.resolve('demo/calc') == calc)
"""
    result = subprocess.run(
        [*orb_command(), "repl", "--naming", naming.address, "--listen", "tcp://127.0.0.1:0"],
        input=script, capture_output=True, text=True, timeout=30, check=False,
        env=clean_env(ORB_REPL_HISTORY=str(tmp_path / "history")),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("orb 0.1.0 REPL")
    assert lines[-3:] == ["ZeroDivisionError: division by zero", "1", "True"]
    assert lines.index("row 10") + 1 == lines.index("row 11")
    assert not (tmp_path / "history").exists()  # nothing typed, nothing kept
