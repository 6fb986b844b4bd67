"""The documentation cannot rot: its code runs and its commands exist.

* Every ```python block of README.md, the guide, the migration note and the
  design record runs, in order, in one namespace per document, in a fresh
  interpreter (this file is also the script that runs them: ``python
  tests/test_docs.py README.md``). Blocks inside HTML comments run too:
  that is where a document keeps setup a reader need not see.
* A line ending in ``# -> EXPECTED`` is checked: for ``print(...)`` the
  printed text, for an expression its ``repr``. ``...`` in EXPECTED matches
  any text (ports, ids, timings).
* Shell blocks (```sh, ```console, or a fence without a language) are not
  run, but every ``orb``, ``orb-naming`` and ``make`` command in them must
  exist: each subcommand is listed by ``--help`` and each ``--option`` is
  accepted by it; ``make`` targets are known to the Makefile.
* Relative links point at files (and headings) that exist.

The documents run on loopback only: the runner pins mDNS to 127.0.0.1
(ORB_MDNS_INTERFACES) and clears the naming variables of the caller.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import io
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from child_env import clean_env

ROOT = Path(__file__).resolve().parent.parent
#: Documents whose python blocks run, in the order a reader meets them.
RUN = ["README.md", "docs/GUIDE.md", "docs/MIGRATING_FROM_PYRO5.md", "docs/DESIGN.md"]
#: Documents whose shell commands and links are checked as well.
CHECK = [*RUN, "docs/CLI.md", "docs/SECURITY.md"]
#: Seconds one document may take to run; together they take about 12 on two cores.
BUDGET = 25.0

FENCE = re.compile(
    r"^(?P<indent>[ ]*)```(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
    re.MULTILINE | re.DOTALL,
)
EXPECT = re.compile(r"^(?P<code>\s*\S.*?)\s+# -> (?P<expected>.*?)\s*$")
SHELL_LANGUAGES = {"", "sh", "shell", "bash", "console"}


class Block:
    """One fenced code block: its language, its text and the line its text starts on.

    ``requires`` names modules the block needs beyond orb's own dependencies
    (```python requires=Pyro5): without them the block is skipped, not failed.
    """

    def __init__(self, language: str, text: str, line: int, requires: tuple[str, ...] = ()) -> None:
        self.language = language
        self.text = text
        self.line = line
        self.requires = requires


def blocks(path: Path) -> list[Block]:
    """The fenced blocks of a markdown file, in order."""
    source = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(source):
        info = match["info"].strip().split()
        language = info[0].lower() if info else ""
        line = source.count("\n", 0, match.start("body")) + 1
        indent = len(match["indent"])
        text = "".join(row[indent:] if row[:indent].isspace() else row
                       for row in match["body"].splitlines(keepends=True))
        requires = tuple(module for word in info[1:] if word.startswith("requires=")
                         for module in word.removeprefix("requires=").split(","))
        found.append(Block(language, text, line, requires))
    return found


# -- running a document (in its own interpreter) ----------------------------------


def _matches(expected: str, actual: str) -> bool:
    pattern = ".*?".join(re.escape(part) for part in expected.split("..."))
    return re.fullmatch(pattern, actual, re.DOTALL) is not None


class _Mismatch(AssertionError):
    pass


def _expect_value(expected: str, where: str, value: Any) -> Any:
    if not _matches(expected, repr(value)):
        raise _Mismatch(f"{where}: expected {expected}\n{' ' * len(where)}  got      {value!r}")
    return value


@contextlib.contextmanager
def _expect_output(expected: str, where: str) -> Iterator[None]:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield
    printed = buffer.getvalue()
    sys.stdout.write(printed)
    if not _matches(expected, printed.rstrip("\n")):
        raise _Mismatch(f"{where}: expected {expected}\n{' ' * len(where)}  printed  {printed.rstrip()}")


def checked_source(block: Block, name: str) -> str:
    """The block's code with each ``# -> EXPECTED`` line turned into a check.

    The result keeps the block's line numbers and is padded so that they
    are the markdown file's own (tracebacks then quote the document).
    """
    rows = []
    for offset, row in enumerate(block.text.splitlines()):
        match = EXPECT.match(row)
        if match is None:
            rows.append(row)
            continue
        code, expected = match["code"], match["expected"]
        where = f"{name}:{block.line + offset}"
        indent = code[: len(code) - len(code.lstrip())]
        statement = ast.parse(code.strip()).body
        if len(statement) != 1 or not isinstance(statement[0], ast.Expr):
            raise SyntaxError(f"{where}: '# ->' follows an expression or a print() call, not {code.strip()!r}")
        call = statement[0].value
        if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
            rows.append(f"{indent}with __docs_output__({expected!r}, {where!r}): {code.strip()}")
        else:
            rows.append(f"{indent}__docs_value__({expected!r}, {where!r}, ({code.strip()}))")
    return "\n" * (block.line - 1) + "\n".join(rows) + "\n"


def run_document(path: Path) -> int:
    """Run every python block of ``path`` in order in one namespace; 0 when all pass."""
    import faulthandler
    import traceback

    faulthandler.dump_traceback_later(BUDGET + 10, exit=True)  # a hung block shows where
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__docs_value__": _expect_value,
        "__docs_output__": _expect_output,
    }
    runnable = [b for b in blocks(path) if b.language in ("python", "py")]
    name = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    for block in runnable:
        missing = [m for m in block.requires if importlib.util.find_spec(m) is None]
        if missing:
            print(f"[docs] {name}:{block.line} skipped: needs {', '.join(missing)}", file=sys.stderr)
            continue
        started = time.monotonic()
        try:
            code = compile(checked_source(block, name), str(path), "exec")
            exec(code, namespace)  # noqa: S102 - running the documentation is the point
        except BaseException as exc:  # noqa: BLE001 - any failure of a block is reported
            sys.stdout.flush()
            print(f"\nFAILED: the python block at {name}:{block.line}", file=sys.stderr)
            if isinstance(exc, _Mismatch):
                print(exc, file=sys.stderr)
            else:
                traceback.print_exc()
            return 1
        sys.stdout.flush()
        print(f"[docs] {name}:{block.line} ran in {time.monotonic() - started:.2f}s", file=sys.stderr)
    print(f"[docs] {len(runnable)} python blocks of {name} passed", file=sys.stderr)
    return 0


# -- the tests --------------------------------------------------------------------


def _document_env() -> dict[str, str]:
    return clean_env()  # nothing a document does leaves this machine


def _documents(names: list[str]) -> list[str]:
    return [name for name in names if (ROOT / name).exists()]


def test_the_documents_exist() -> None:
    missing = [name for name in RUN if not (ROOT / name).exists()]
    assert not missing, f"missing documents: {missing}"


def test_readme_opens_with_the_two_command_quickstart() -> None:
    first = blocks(ROOT / "README.md")[0]
    assert first.text.split("\n") == ["make demo", "make test", ""], first.text
    before = (ROOT / "README.md").read_text(encoding="utf-8").split("```", 1)[0]
    assert "## Quickstart" in before


def _run(name: str) -> None:
    """Run a document in its own interpreter and process group, and leave nothing behind.

    Processes a document starts (the guide's naming daemon) are stopped by
    the document itself; if it dies or hangs before it can, killing the
    process group stops them too.
    """
    limit = BUDGET + 20
    with tempfile.TemporaryDirectory(prefix="orb-docs-") as workdir:  # files a document writes
        started = time.monotonic()
        runner = subprocess.Popen(
            [sys.executable, __file__, str(ROOT / name)], cwd=workdir, env=_document_env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        )
        try:
            stdout, stderr = runner.communicate(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(runner.pid, signal.SIGKILL)
            stdout, stderr = runner.communicate()
            raise AssertionError(f"{name} did not finish in {limit:.0f}s:\n{stderr[-8000:]}") from None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(runner.pid, signal.SIGKILL)
        took = time.monotonic() - started
    assert runner.returncode == 0, f"{name}:\n{stdout[-4000:]}\n{stderr[-8000:]}"
    assert took < BUDGET, f"{name} took {took:.1f}s; keep a document's examples under {BUDGET:.0f}s"


def test_readme_examples_run() -> None:
    _run("README.md")


def test_guide_examples_run() -> None:
    _run("docs/GUIDE.md")


def test_migration_note_examples_run() -> None:
    _run("docs/MIGRATING_FROM_PYRO5.md")


def test_design_record_examples_run() -> None:
    _run("docs/DESIGN.md")


def test_every_python_block_is_run() -> None:
    """A block in another language slips past the runner; python must say so."""
    for name in _documents(RUN):
        for block in blocks(ROOT / name):
            if block.language in ("python", "py"):
                continue
            looks_like_python = re.search(r"^\s*(import orb|from orb|@orb\.)", block.text, re.MULTILINE)
            assert not looks_like_python, f"{name}:{block.line} is Python but fenced as {block.language!r}"


def test_expected_output_lines_are_well_formed() -> None:
    for name in _documents(RUN):
        for block in blocks(ROOT / name):
            if block.language in ("python", "py"):
                checked_source(block, name)  # raises SyntaxError for a misplaced '# ->'


# -- shell commands ---------------------------------------------------------------


def _commands(block: Block) -> Iterator[list[str]]:
    """The commands of a shell block: continuation lines joined, prompts and comments dropped."""
    text = re.sub(r"\\\n", " ", block.text)
    for row in text.splitlines():
        row = row.strip()
        row = row.removeprefix("$ ")
        try:
            words = shlex.split(row, comments=True)
        except ValueError:
            continue
        # Environment assignments in front of a command: ORB_NAMING=... orb ls
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            words = words[1:]
        if words:
            yield words


def _help(program: str, path: list[str]) -> str:
    """What ``program PATH... --help`` prints, asked of the console script's own main()."""
    module = importlib.import_module("orb._cli" if program == "orb" else "orb.naming.__main__")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.suppress(SystemExit):
        module.main([*path, "--help"])
    assert printed.getvalue(), f"{program} {' '.join(path)} --help printed nothing"
    return printed.getvalue()


def _subcommands(help_text: str) -> set[str]:
    match = re.search(r"positional arguments:\n\s+(?:COMMAND|\{[^}]*\})\n(.*?)(?:\n\n|\Z)", help_text, re.DOTALL)
    if match is None:
        return set()
    return {m for m in re.findall(r"^    ([a-z][\w-]*)", match[1], re.MULTILINE)}


def _check_cli(program: str, words: list[str], where: str, cache: dict[tuple[str, tuple[str, ...]], str]) -> None:
    path: list[str] = []
    key: tuple[str, tuple[str, ...]] = (program, ())
    text = cache.setdefault(key, _help(program, []))
    rest = words[1:]
    while rest and not rest[0].startswith("-"):
        known = _subcommands(text)
        if not known:
            break
        assert rest[0] in known, f"{where}: `{program} {' '.join(path + rest[:1])}` is not a command ({sorted(known)})"
        path.append(rest.pop(0))
        key = (program, tuple(path))
        if key not in cache:
            cache[key] = _help(program, path)
        text = cache[key]
    for word in words[1:]:
        if word.startswith("-") and word not in ("-", "--"):
            option = word.split("=", 1)[0]
            assert re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text), (
                f"{where}: `{program} {' '.join(path)}` has no option {option}"
            )


def test_commands_in_shell_blocks_exist() -> None:
    cache: dict[tuple[str, tuple[str, ...]], str] = {}
    checked = 0
    for name in _documents(CHECK):
        for block in blocks(ROOT / name):
            if block.language not in SHELL_LANGUAGES:
                continue
            for offset, words in enumerate(_commands(block)):
                where = f"{name}:{block.line}+{offset}"
                if words[0] in ("orb", "orb-naming"):
                    _check_cli(words[0], words, where, cache)
                    checked += 1
                elif words[0] == "make":
                    for target in [w for w in words[1:] if "=" not in w and not w.startswith("-")]:
                        done = subprocess.run(["make", "-n", target], check=False, cwd=ROOT,
                                              capture_output=True, text=True, timeout=30)
                        assert done.returncode == 0, f"{where}: no make target {target!r}: {done.stderr}"
                        checked += 1
                elif words[0] in ("python", "python3") and len(words) > 1 and "/" in words[1]:
                    assert (ROOT / words[1]).exists(), f"{where}: {words[1]} does not exist"
    assert checked > 0


# -- links ------------------------------------------------------------------------


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    source = path.read_text(encoding="utf-8")
    source = FENCE.sub("", source)
    return {_slug(h) for h in re.findall(r"^#{1,6} (.+)$", source, re.MULTILINE)}


def test_relative_links_point_at_what_exists() -> None:
    for name in _documents(CHECK):
        path = ROOT / name
        text = FENCE.sub("", path.read_text(encoding="utf-8"))
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file_part, _, anchor = target.partition("#")
            linked = (path.parent / file_part).resolve() if file_part else path
            assert linked.exists(), f"{name}: link to {target} points at nothing"
            if anchor and linked.suffix == ".md":
                assert anchor in _anchors(linked), f"{name}: no heading #{anchor} in {linked.relative_to(ROOT)}"


if __name__ == "__main__":
    sys.exit(run_document(Path(sys.argv[1]).resolve()))
