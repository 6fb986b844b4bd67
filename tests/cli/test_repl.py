"""``orb repl`` driven as a person would: keys typed into a real pseudo-terminal.

The screen is what a terminal would show (pyte renders the REPL's output).
Completion is checked by what it inserts on screen and by running the
completed line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .support import NamingDaemon, Server, Terminal, clean_env, orb_command

Start = Callable[..., Terminal]


@pytest.fixture
def start_repl(tmp_path: Path) -> Iterator[Start]:
    """Start ``orb repl ARGS`` in a terminal, history in tmp_path unless told otherwise."""
    terminals: list[Terminal] = []

    def start(*args: str, **env: str) -> Terminal:
        environment = clean_env(
            **{"ORB_REPL_HISTORY": str(tmp_path / "history"), "PAGER": "cat", "TERM": "xterm-256color", **env}
        )
        terminal = Terminal([*orb_command(), "repl", *args], environment, cwd=str(tmp_path))
        terminals.append(terminal)
        return terminal

    yield start
    for terminal in terminals:
        terminal.close()


def prompt_then(term: Terminal, line: str, expected: str | None = None, timeout: float = 10.0) -> str:
    """Run ``line`` at a fresh prompt; wait for ``expected`` (a regex) and the next prompt.

    Returns what the session showed from ``line`` to the next prompt.
    """
    term.wait_for_prompt()
    start = term.row()
    term.enter(line)
    if expected is not None:
        term.wait_until(
            lambda: re.search(expected, term.text(start), re.MULTILINE),
            f"/{expected}/ after {line!r}", timeout,
        )
    term.wait_until(
        lambda: term.row() > start and term.cursor_line() == ">>>", f"the prompt after {line!r}", timeout
    )
    return term.text(start)


def start_running(term: Terminal, line: str) -> None:
    """Run ``print("running"); <line>`` and wait until it shows "running", as a person would."""
    term.wait_for_prompt()
    start = term.row()
    term.enter(f'print("running"); {line}')
    term.wait_until(lambda: "\nrunning" in term.text(start), f"{line!r} to start")


def test_a_session_completes_calls_and_survives_remote_errors(
    start_repl: Start, naming: NamingDaemon, server: Server
) -> None:
    term = start_repl("--naming", naming.address)
    term.wait_for(rf"^naming service: {re.escape(naming.address)} \(from --naming\), 3 binding\(s\)$")
    term.wait_for(r"^names: demo/$")
    term.wait_for_prompt()

    # A remote name, completed one context at a time.
    term.type('calc = resolve("de\t')
    term.wait_for(r'^>>> calc = resolve\("demo/$')
    term.type("ca\t")
    term.wait_for(r'^>>> calc = resolve\("demo/calc"$')
    term.enter(")")

    # A remote method, completed from the remote interface, then called.
    term.wait_for_prompt()
    term.type("calc.ad\t")
    term.wait_for(r"^>>> calc\.add$")
    term.enter("(20, 22)")
    term.wait_for(r"^42$")

    # Tab on a proxy lists its remote members with their signatures.
    term.wait_for_prompt()
    term.type("calc.\t")
    term.wait_for(r"divide\s+\(a: float, b: float\) -> float")
    term.wait_for(r"total\s+property")
    term.control("c")

    # A remote exception prints with its remote traceback; the session goes on.
    text = prompt_then(term, "calc.divide(1, 0)", r"^ZeroDivisionError: division by zero$")
    assert "orb.RemoteTraceback:" in text
    assert "servants.py" in text and "return a / b" in text
    assert "The above exception was the direct cause of the following exception:" in text
    assert 'File "<input-' in text and "calc.divide(1, 0)" in text
    assert "orb/_" not in text  # orb's own frames are not shown for a remote failure

    prompt_then(term, 'calc.fail("boom")', r"^orb\.RemoteError: servants\.CalculatorError: boom$")
    prompt_then(term, "calc.add(300, 33)", r"^333$")

    term.wait_for_prompt()
    term.control("d")
    assert term.wait_exit() == 0


def test_help_helpers_and_top_level_await(start_repl: Start, naming: NamingDaemon, server: Server) -> None:
    term = start_repl("--naming", naming.address)

    # help() shows the remote interface of a proxy, and a remote method's signature and doc.
    prompt_then(term, 'calc = resolve("demo/calc")')
    text = prompt_then(term, "help(calc)", r"^Properties:\n\s+total  \(read-only\)")
    assert "remote Calculator (servants.Calculator)" in text
    assert f"at {server.uris['demo/calc']}" in text
    assert "Adds and divides numbers, and keeps a running total." in text
    assert "    add(a: int, b: int) -> int\n        Return a + b and add it to the total." in text
    assert "    reset() -> None  [oneway]" in text
    text = prompt_then(term, "help(calc.divide)", r"divide\(a: float, b: float\) -> float")
    assert "Return a / b." in text

    # The helpers.
    prompt_then(term, 'ls("demo/")', r"^demo/calc\s+servants\.Calculator\s+lease \d+s$")
    term.wait_for(r"^demo/chat/$")
    prompt_then(term, 'names = ls("demo/", recursive=True); names[1]', r"^'demo/chat/lobby'$")
    prompt_then(term, 'describe("demo/chat/lobby")', r"^remote Room \(servants\.Room\)$")
    term.wait_for(r"^    post\(text: str\) -> int$")
    prompt_then(term, 'invoke("demo/calc", "add", 2, 5) * 11', r"^77$")
    prompt_then(term, f'proxy("{server.uris["demo/chat/lobby"]}").post("hello") + 500', r"^50\d$")
    prompt_then(term, 'stats()["naming"]', rf"^'{re.escape(naming.address)}'$")
    prompt_then(term, 'stats()["connections"][0]["direction"]', r"^'outgoing'$")

    # Method names complete inside invoke's second argument.
    term.wait_for_prompt()
    term.type('invoke("demo/calc", "di\t')
    term.wait_for(r'^>>> invoke\("demo/calc", "divide"$')
    term.enter(", 9, 2)")
    term.wait_for(r"^4\.5$")

    # Top-level await runs on the session's event loop, which keeps running.
    prompt_then(term, "import asyncio")
    prompt_then(term, 'await asyncio.sleep(0.01, "awaited")', r"^'awaited'$")
    prompt_then(term, "task = asyncio.ensure_future(asyncio.sleep(0, 6 * 7))")
    prompt_then(term, "await task", r"^42$")
    prompt_then(term, "async def twice(x):\r    return 2 * x\r")
    prompt_then(term, "await twice(1000)", r"^2000$")


def test_multi_line_input_and_interrupts(start_repl: Start, naming: NamingDaemon, server: Server) -> None:
    term = start_repl("--naming", naming.address)
    term.wait_for_prompt()
    term.enter("def triple(x):")
    term.wait_until(  # continued on a new line, indented
        lambda: term.cursor_line() == "..." and term.screen.cursor.x == len("... ") + 4,
        "an indented continuation line",
    )
    term.enter("return 3 * x")
    term.enter("")
    prompt_then(term, "triple(111)", r"^333$")
    prompt_then(term, "import asyncio")

    # Ctrl-C interrupts a local computation and a remote call; the session goes on.
    prompt_then(term, "import time")
    start_running(term, "time.sleep(30)")
    term.control("c")
    term.wait_for(r"KeyboardInterrupt$")
    prompt_then(term, 'calc = resolve("demo/calc")')
    start_running(term, "calc.wait(30)")
    term.control("c")
    term.wait_until(lambda: term.text().count("KeyboardInterrupt") == 2, "a second KeyboardInterrupt")
    start_running(term, "await asyncio.sleep(30)")
    term.control("c")
    term.wait_until(lambda: term.text().count("KeyboardInterrupt") == 3, "a third KeyboardInterrupt")
    prompt_then(term, "calc.add(1, 2) * 111", r"^333$")
    prompt_then(term, "1 / 0", r"^ZeroDivisionError: division by zero$")
    term.wait_for_prompt()
    term.enter("exit(4)")
    assert term.wait_exit() == 4


def test_history_is_kept_across_sessions(
    start_repl: Start, naming: NamingDaemon, server: Server, tmp_path: Path
) -> None:
    history = tmp_path / "state" / "my_history"
    first = start_repl("--naming", naming.address, ORB_REPL_HISTORY=str(history))
    prompt_then(first, 'print("from", "the first session")', r"^from the first session$")
    prompt_then(first, "1 + 1", r"^2$")
    first.wait_for_prompt()
    first.control("d")
    assert first.wait_exit() == 0
    assert 'print("from", "the first session")' in history.read_text()

    second = start_repl("--naming", naming.address, "--history", str(history))
    second.wait_for_prompt()
    second.type("\x1b[A")  # Up: the last line
    second.wait_for(r"^>>> 1 \+ 1$")
    second.type("\x1b[A")  # Up again: the one before
    second.wait_for(r'^>>> print\("from", "the first session"\)$')
    second.enter()
    second.wait_for(r"^from the first session$")

    # Ctrl-R searches the history; Enter takes the match, Enter again runs it.
    second.wait_for_prompt()
    second.control("r")
    second.type("1 +")
    second.wait_for(r"^I-search backward: 1 \+$")
    second.enter()
    second.wait_until(lambda: second.cursor_line() == ">>> 1 + 1", "the match in the prompt")
    start = second.row()
    second.enter()
    second.wait_until(lambda: second.text(start).endswith("\n2\n>>>"), "1 + 1 to run")


def test_a_lost_connection_is_an_error_not_the_end(start_repl: Start) -> None:
    naming = NamingDaemon()
    server = Server(naming.address)
    try:
        term = start_repl("--naming", naming.address)
        prompt_then(term, 'calc = resolve("demo/calc")')
        prompt_then(term, "calc.add(40, 2)", r"^42$")
        server.kill()
        prompt_then(term, "calc.add(1, 2)", r"^orb\.CommunicationError: .*$")
        assert "orb/_" not in term.text()
        prompt_then(term, "calc.add(1, 2)", r"^orb\.CommunicationError: cannot connect to .*refused")
        prompt_then(term, '"still" + " here"', r"^'still here'$")

        # The naming service goes away too: helpers fail, the session goes on.
        naming.stop()
        prompt_then(term, "ls()", r"^orb\.CommunicationError: ")
        prompt_then(term, "6 * 7", r"^42$")
    finally:
        server.kill()
        naming.stop()


def test_without_a_naming_service_the_repl_still_starts(start_repl: Start, unused_port: int) -> None:
    term = start_repl("--naming", f"127.0.0.1:{unused_port}")
    term.wait_for(r"^naming service: not connected \(cannot connect to .*refused\)$")
    prompt_then(term, "ls()", r"^orb\.CommunicationError: cannot connect to .*refused")
    prompt_then(term, "2 ** 10", r"^1024$")


def test_the_naming_service_is_found_by_mdns(
    start_repl: Start, mdns_naming: tuple[NamingDaemon, str]
) -> None:
    daemon, domain = mdns_naming
    term = start_repl("--mdns-interface", "127.0.0.1", "--domain", domain)
    term.wait_for(rf"^naming service: {re.escape(daemon.address)} \(from mDNS\), 0 binding\(s\)$")
    term.wait_for(r"^names: \(none bound\)$")
    # The session's broker uses the naming service it found, so orb's own helpers do too.
    prompt_then(term, "orb.naming.naming_proxy().ping()", r"^'pong'$")
