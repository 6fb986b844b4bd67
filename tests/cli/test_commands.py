"""The one-shot commands: ls, resolve, describe, call, ping; output and exit codes.

Most run ``orb._cli.main`` in this process against a real naming daemon
and server process; the last tests run the installed ``orb`` command to
prove exit codes and one-line errors end to end.
"""

from __future__ import annotations

import json
import uuid

import pytest

from orb._cli import main

from .support import NamingDaemon, Server, clean_env, run_orb


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ORB_NAMING", raising=False)
    monkeypatch.setenv("ORB_MDNS_INTERFACES", "127.0.0.1")


@pytest.fixture
def orb(capsys: pytest.CaptureFixture[str], naming: NamingDaemon, server: Server):
    """Run ``orb ARGS --naming <the daemon>``; returns (exit code, stdout, stderr)."""

    def run(*args: str, naming_option: bool = True) -> tuple[int, str, str]:
        argv = [*args, "--naming", naming.address] if naming_option else list(args)
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


def assert_one_line_error(err: str, *fragments: str) -> None:
    assert "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith("orb: "), err
    for fragment in fragments:
        assert fragment in err


# -- ls ---------------------------------------------------------------------


def test_ls_lists_the_root_context(orb) -> None:
    assert orb("ls") == (0, "demo/\n", "")


def test_ls_lists_a_context_with_names_and_sub_contexts(orb) -> None:
    code, out, _ = orb("ls", "demo/")
    assert code == 0
    assert out.splitlines() == ["demo/chat/", "demo/calc", "demo/vault"]


def test_ls_long_shows_type_and_lease(orb) -> None:
    code, out, _ = orb("ls", "-l", "demo/")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "demo/chat/"
    assert lines[1].split()[:2] == ["demo/calc", "servants.Calculator"]
    assert "lease" in lines[1]


def test_ls_recursive_json_gives_every_binding(orb, server: Server) -> None:
    code, out, _ = orb("ls", "-r", "--json")
    assert code == 0
    entries = json.loads(out)
    assert [e["name"] for e in entries] == ["demo/calc", "demo/chat/lobby", "demo/vault"]
    calc = entries[0]
    assert calc["uri"] == server.uris["demo/calc"]
    assert calc["interface"] == "servants.Calculator"
    assert calc["permanent"] is False and calc["expires_in"] > 0


def test_ls_pattern_filters(orb) -> None:
    assert orb("ls", "-r", "--pattern", "*/v*") == (0, "demo/vault\n", "")


def test_ls_of_an_empty_context_prints_nothing(orb) -> None:
    assert orb("ls", "nothing/here/") == (0, "", "")


def test_ls_of_an_invalid_prefix_is_a_usage_error(orb) -> None:
    code, out, err = orb("ls", "/bad/")
    assert (code, out) == (2, "")
    assert_one_line_error(err, "may not start or end with '/'")


# -- resolve ------------------------------------------------------------------


def test_resolve_prints_the_uri(orb, server: Server) -> None:
    assert orb("resolve", "demo/calc") == (0, server.uris["demo/calc"] + "\n", "")


def test_resolve_json(orb, server: Server) -> None:
    code, out, _ = orb("resolve", "--json", "demo/chat/lobby")
    assert code == 0
    assert json.loads(out) == {
        "name": "demo/chat/lobby", "uri": server.uris["demo/chat/lobby"], "interface": "servants.Room",
    }


def test_resolve_an_unbound_name_fails_with_one_line(orb) -> None:
    code, out, err = orb("resolve", "demo/nope")
    assert (code, out) == (1, "")
    assert_one_line_error(err, "'demo/nope' is not bound")


def test_resolve_an_invalid_name_is_a_usage_error(orb) -> None:
    code, _, err = orb("resolve", "demo//calc")
    assert code == 2
    assert_one_line_error(err, "empty part")


# -- describe -----------------------------------------------------------------


def test_describe_a_name_shows_methods_signatures_and_docs(orb, server: Server) -> None:
    code, out, _ = orb("describe", "demo/calc")
    assert code == 0
    lines = out.splitlines()
    assert lines[:2] == ["remote Calculator (servants.Calculator)", f"at {server.uris['demo/calc']}"]
    assert "    Adds and divides numbers, and keeps a running total." in lines
    assert "    add(a: int, b: int) -> int" in lines
    assert "        Return a + b and add it to the total." in lines
    assert "    reset() -> None  [oneway]" in lines
    assert "    total  (read-only)" in lines


def test_describe_a_uri_as_json(orb, server: Server) -> None:
    code, out, _ = orb("describe", "--json", server.uris["demo/chat/lobby"], naming_option=False)
    assert code == 0
    described = json.loads(out)
    assert described["type_name"] == "servants.Room"
    assert [m["name"] for m in described["methods"]] == ["post"]
    assert described["methods"][0]["signature"] == "(text: str) -> int"


def test_describe_an_unknown_object_fails(orb, server: Server) -> None:
    base = server.uris["demo/calc"].rsplit("/", 1)[0]
    code, _, err = orb("describe", f"{base}/{uuid.uuid4().hex}", naming_option=False)
    assert code == 1
    assert_one_line_error(err)


def test_describe_a_bad_uri_is_a_usage_error(orb) -> None:
    code, _, err = orb("describe", "orb://nowhere", naming_option=False)
    assert code == 2
    assert_one_line_error(err)


# -- call ---------------------------------------------------------------------


def test_call_with_literal_arguments_prints_the_result(orb) -> None:
    assert orb("call", "demo/calc", "add", "2", "3") == (0, "5\n", "")
    assert orb("call", "demo/calc", "add", "-1", "b=-2") == (0, "-3\n", "")


def test_call_arguments_keep_their_types(orb) -> None:
    code, out, _ = orb("call", "demo/calc", "echo", "1", "(2, 3)", "{4}", "b'x'", "'text'", "k=None")
    assert code == 0
    assert out == "{'args': (1, (2, 3), {4}, b'x', 'text'), 'kwargs': {'k': None}}\n"


def test_call_json_output(orb) -> None:
    code, out, _ = orb("call", "--json", "demo/calc", "echo", "(1, 2)", "{3}", "b'hi'", "k={'a': 1.5}")
    assert code == 0
    assert json.loads(out) == {"args": [[1, 2], [3], "aGk="], "kwargs": {"k": {"a": 1.5}}}
    assert orb("call", "--json", "demo/calc", "add", "1", "1") == (0, "2\n", "")


def test_call_a_oneway_method_prints_nothing(orb) -> None:
    assert orb("call", "demo/calc", "reset") == (0, "", "")
    assert orb("call", "--json", "demo/calc", "reset") == (0, "null\n", "")


def test_call_reads_a_property(orb) -> None:
    code, out, _ = orb("call", "demo/calc", "total")
    assert code == 0 and int(out) >= 0


def test_call_by_uri(orb, server: Server) -> None:
    assert orb("call", server.uris["demo/chat/lobby"], "post", "'hi'", naming_option=False)[0] == 0


def test_call_that_raises_remotely_fails_with_one_line(orb) -> None:
    code, out, err = orb("call", "demo/calc", "divide", "1", "0")
    assert (code, out) == (1, "")
    assert_one_line_error(err, "remote ZeroDivisionError: division by zero")


def test_call_with_an_unknown_remote_exception_type(orb) -> None:
    code, _, err = orb("call", "demo/calc", "fail", "'boom'")
    assert code == 1
    assert_one_line_error(err, "remote servants.CalculatorError: boom")


def test_call_traceback_option_shows_the_remote_traceback(orb) -> None:
    code, _, err = orb("call", "--traceback", "demo/calc", "divide", "1", "0")
    assert code == 1
    assert "return a / b" in err and "servants.py" in err
    assert err.splitlines()[-1] == "orb: remote ZeroDivisionError: division by zero"


def test_call_refused_by_the_servant_is_access_denied(orb) -> None:
    code, _, err = orb("call", "demo/vault", "open", "'1234'")
    assert code == 1
    assert_one_line_error(err, "access denied: code '1234' does not open this vault")


def test_call_an_unknown_method_names_the_ones_there_are(orb) -> None:
    code, _, err = orb("call", "demo/calc", "multiply", "2", "3")
    assert code == 1
    assert_one_line_error(err, "no method 'multiply'", "add, divide")


def test_call_arguments_must_be_literals(orb) -> None:
    code, _, err = orb("call", "demo/calc", "fail", "boom")
    assert code == 2
    assert_one_line_error(err, "argument 1 ('boom') is not a Python literal")
    code, _, err = orb("call", "demo/calc", "add", "a=1", "2")
    assert code == 2
    assert_one_line_error(err, "positional but follows a keyword")


def test_call_times_out(orb) -> None:
    code, _, err = orb("call", "--timeout", "0.3", "demo/calc", "wait", "5")
    assert code == 3
    assert_one_line_error(err, "within 0.3s")


# -- ping ---------------------------------------------------------------------


def test_ping_reports_the_service(orb, naming: NamingDaemon) -> None:
    code, out, _ = orb("ping")
    assert code == 0
    first, second = out.splitlines()
    assert first.startswith(f"naming service at {naming.address} (from --naming) is alive: ")
    assert second.startswith("orb-naming: store memory, 3 binding(s), lease 30s, up ")


def test_ping_json(orb, naming: NamingDaemon) -> None:
    code, out, _ = orb("ping", "--json")
    assert code == 0
    info = json.loads(out)
    assert info["address"] == naming.address and info["source"] == "--naming"
    assert info["service"] == "orb-naming" and info["bindings"] == 3 and info["rtt_ms"] > 0


def test_commands_use_orb_naming_from_the_environment(
    orb, naming: NamingDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORB_NAMING", naming.address)
    code, out, _ = orb("ping", naming_option=False)
    assert code == 0 and "(from ORB_NAMING)" in out


def test_commands_fail_when_the_naming_service_is_down(orb, unused_port: int) -> None:
    for argv in (["ping"], ["ls"], ["resolve", "demo/calc"], ["call", "demo/calc", "add", "1", "2"]):
        code, out, err = orb(*argv, "--naming", f"127.0.0.1:{unused_port}", naming_option=False)
        assert (code, out) == (3, ""), argv
        assert_one_line_error(err, "Connection refused")


def test_no_naming_service_found_by_mdns(orb) -> None:
    domain = f"nobody-{uuid.uuid4().hex[:8]}"
    code, _, err = orb("ping", "--mdns-timeout", "0.3", "--domain", domain, naming_option=False)
    assert code == 3
    assert_one_line_error(err, "no naming service found by mDNS", domain, "127.0.0.1")



# -- the installed command, end to end ------------------------------------------


def test_installed_command_finds_the_naming_service_by_mdns(mdns_naming: tuple[NamingDaemon, str]) -> None:
    daemon, domain = mdns_naming
    result = run_orb("ping", "--mdns-interface", "127.0.0.1", "--domain", domain)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"naming service at {daemon.address} (from mDNS) is alive")


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["call", "demo/calc", "add", "2", "3"], 0, None),
        (["resolve", "demo/missing"], 1, "is not bound"),
        (["call", "demo/calc", "divide", "1", "0"], 1, "remote ZeroDivisionError"),
        (["call", "demo/calc", "add", "two", "3"], 2, "not a Python literal"),
    ],
)
def test_installed_command_exit_codes(
    naming: NamingDaemon, server: Server, argv: list[str], code: int, message: str | None
) -> None:
    result = run_orb(*argv, env=clean_env(ORB_NAMING=naming.address))
    assert result.returncode == code, result.stderr
    if message is None:
        assert (result.stdout, result.stderr) == ("5\n", "")
    else:
        assert result.stdout == "" and "Traceback" not in result.stderr
        assert result.stderr.startswith("orb: ") and result.stderr.count("\n") == 1
        assert message in result.stderr


def test_installed_command_connection_refused(unused_port: int) -> None:
    result = run_orb("ls", "--naming", f"127.0.0.1:{unused_port}")
    assert result.returncode == 3
    assert result.stderr.startswith("orb: cannot connect to") and result.stderr.count("\n") == 1


def test_usage_errors_exit_2() -> None:
    result = run_orb("call", "demo/calc")
    assert result.returncode == 2
    assert "usage: orb call" in result.stderr and "Traceback" not in result.stderr
