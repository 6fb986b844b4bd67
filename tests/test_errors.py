"""Remote exceptions, orb's own errors, and logging through the "orb" logger."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys
import traceback
from typing import Any

import pytest

import orb


class UnknownError(Exception):
    """Not registered with the client's codec."""


class InsufficientFunds(Exception):
    """Registered with both codecs: travels as itself."""

    def __init__(self, needed: int, available: int) -> None:
        super().__init__(needed, available)
        self.needed = needed
        self.available = available

    def __str__(self) -> str:
        return f"needed {self.needed}, have {self.available}"


class Unprintable:
    def __repr__(self) -> str:
        return "<Unprintable>"


@orb.expose
class Bank:
    def withdraw(self, amount: int) -> int:
        if amount > 10:
            raise InsufficientFunds(amount, 10)
        return 10 - amount

    def divide(self, a: int, b: int) -> float:
        return a / b

    def lookup(self, key: str) -> Any:
        return {}[key]

    def custom(self) -> None:
        raise UnknownError("something domain-specific")

    def chained(self) -> None:
        try:
            {}["missing"]
        except KeyError as exc:
            raise ValueError("lookup failed") from exc

    def odd_args(self) -> None:
        raise ValueError("has an odd argument", Unprintable())

    def exit(self) -> None:
        raise SystemExit(3)

    def deep(self, n: int) -> None:
        if n == 0:
            raise OSError(2, "No such file", "/nowhere")
        self.deep(n - 1)


@pytest.fixture
def bank(server: orb.ORB, client: orb.ORB) -> orb.Proxy:
    return client.proxy(server.export(Bank()))


def test_builtin_exception_keeps_its_type(bank: orb.Proxy) -> None:
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        bank.divide(1, 0)
    with pytest.raises(KeyError, match="nope"):
        bank.lookup("nope")
    with pytest.raises(FileNotFoundError) as info:
        bank.deep(3)
    assert info.value.errno == 2 and info.value.filename == "/nowhere"
    assert str(info.value) == "[Errno 2] No such file: '/nowhere'"
    assert bank.divide(1, 2) == 0.5  # the connection is still fine


def test_unknown_exception_becomes_remote_error(bank: orb.Proxy) -> None:
    with pytest.raises(orb.RemoteError) as info:
        bank.custom()
    exc = info.value
    assert exc.remote_type == f"{__name__}.UnknownError"
    assert exc.remote_message == "something domain-specific"
    assert "UnknownError: something domain-specific" in str(exc)
    assert "raise UnknownError" in exc.remote_traceback
    assert isinstance(exc, orb.OrbError)


def test_registered_exception_keeps_its_type(server: orb.ORB) -> None:
    server.codec.register(InsufficientFunds)
    ref = server.export(Bank())
    with orb.ORB(types=[InsufficientFunds]) as client:
        with pytest.raises(InsufficientFunds) as info:
            client.proxy(ref).withdraw(50)
    assert (info.value.needed, info.value.available) == (50, 10)
    assert str(info.value) == "needed 50, have 10"
    assert "raise InsufficientFunds" in info.value.remote_traceback


def test_exception_registered_on_one_side_only(server: orb.ORB, client: orb.ORB) -> None:
    server.codec.register(InsufficientFunds)
    with pytest.raises(orb.RemoteError) as info:
        client.proxy(server.export(Bank())).withdraw(50)
    assert info.value.remote_type == f"{__name__}.InsufficientFunds"
    assert info.value.remote_message == "needed 50, have 10"


def test_remote_traceback_is_attached_and_printed(bank: orb.Proxy) -> None:
    with pytest.raises(ZeroDivisionError) as info:
        bank.divide(1, 0)
    exc = info.value
    assert "in divide" in exc.remote_traceback
    assert "return a / b" in exc.remote_traceback
    printed = "".join(traceback.format_exception(exc))
    assert exc.remote_traceback.strip() in printed
    assert "in divide" in printed and "return a / b" in printed
    # The local part (where the call was made) is there too, after the remote part.
    assert printed.index("return a / b") < printed.index("test_remote_traceback_is_attached")
    assert isinstance(exc.__cause__, orb.RemoteTraceback)


def test_remote_error_traceback_is_printed(bank: orb.Proxy) -> None:
    with pytest.raises(orb.RemoteError) as info:
        bank.custom()
    printed = "".join(traceback.format_exception(info.value))
    assert 'raise UnknownError("something domain-specific")' in printed


def test_remote_traceback_shows_orb_internals_not_at_all(bank: orb.Proxy) -> None:
    with pytest.raises(ZeroDivisionError) as info:
        bank.divide(1, 0)
    assert "_dispatch.py" not in info.value.remote_traceback


def test_remote_cause_chain_is_in_the_traceback_text(bank: orb.Proxy) -> None:
    with pytest.raises(ValueError, match="lookup failed") as info:
        bank.chained()
    assert "KeyError: 'missing'" in info.value.remote_traceback
    assert "direct cause" in info.value.remote_traceback


def test_unencodable_exception_arguments_travel_as_text(bank: orb.Proxy) -> None:
    with pytest.raises(ValueError) as info:
        bank.odd_args()
    assert info.value.args == ("has an odd argument", "<Unprintable>")


def test_remote_system_exit_does_not_exit_the_caller(bank: orb.Proxy) -> None:
    with pytest.raises(orb.RemoteError) as info:
        bank.exit()
    assert info.value.remote_type == "SystemExit"
    assert bank.divide(4, 2) == 2.0  # and the server is still serving


def test_orb_errors_from_the_server_keep_their_type(server: orb.ORB, client: orb.ORB) -> None:
    ghost = client.proxy(orb.ObjectRef(object_id="ghost", endpoints=server.endpoints))
    with pytest.raises(orb.ObjectNotFound) as info:
        ghost.anything()
    assert "ghost" in str(info.value)
    assert "no object with id" in info.value.remote_traceback


def test_error_tree() -> None:
    assert issubclass(orb.CommunicationError, orb.OrbError)
    assert issubclass(orb.TimeoutError, orb.CommunicationError)
    assert issubclass(orb.TimeoutError, TimeoutError)
    assert issubclass(orb.ObjectNotFound, LookupError)
    assert issubclass(orb.NameNotFound, LookupError)
    assert issubclass(orb.AccessDenied, PermissionError)
    assert issubclass(orb.EncodeError, TypeError)
    assert issubclass(orb.LocalProtocolError, orb.ProtocolError)
    for cls in (orb.RemoteError, orb.ProtocolError, orb.EncodeError, orb.ObjectNotFound):
        assert issubclass(cls, orb.OrbError)
        assert repr(cls).startswith("<class 'orb.")


def test_connect_failure_is_communication_error_not_os_error(client: orb.ORB) -> None:
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(orb.CommunicationError, match=f"127.0.0.1:{port}") as info:
        client.proxy(f"orb://127.0.0.1:{port}/x").anything()
    assert "refused" in str(info.value).lower()


# -- logging --------------------------------------------------------------

LIBRARY = pathlib.Path(orb.__file__).parent


# The orb command's modules (CLI, one-shot commands, REPL) talk to the terminal.
FRONT_ENDS = ("_cli", "_commands", "_repl")


def _library_files() -> list[pathlib.Path]:
    """The source files a program loads with orb and its services (not the CLI front ends)."""
    code = (
        "import importlib, sys\n"
        "for name in ('orb', 'orb.naming', 'orb.gc', 'orb.security'):\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ImportError:\n"
        "        pass\n"
        "for name, module in sorted(sys.modules.items()):\n"
        "    if name.split('.')[0] == 'orb' and getattr(module, '__file__', None):\n"
        "        print(module.__file__)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, timeout=60, capture_output=True, text=True
    ).stdout
    files = [pathlib.Path(line) for line in out.split()]
    assert any(f.name == "_channel.py" for f in files)
    return files


def test_library_never_prints() -> None:
    offenders = []
    for path in _library_files():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
                offenders.append(f"{path}:{node.lineno} print()")
            if (
                isinstance(node, ast.Attribute)
                and node.attr in ("stdout", "stderr")
                and getattr(node.value, "id", None) == "sys"
            ):
                offenders.append(f"{path}:{node.lineno} sys.{node.attr}")
    assert offenders == []


def test_library_loggers_are_under_orb() -> None:
    names = []
    for path in LIBRARY.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "getLogger":
                arg = node.args[0] if node.args else None
                names.append(arg.value if isinstance(arg, ast.Constant) else ast.dump(node))
    assert names
    assert all(name == "orb" or name.startswith("orb.") for name in names), names


def test_importing_orb_configures_no_logging() -> None:
    code = (
        "import logging, orb\n"
        "assert logging.getLogger().handlers == [], logging.getLogger().handlers\n"
        "assert logging.getLogger('orb').handlers == []\n"
        "assert logging.getLogger('orb').level == logging.NOTSET\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


def test_failures_are_logged_not_printed(
    server: orb.ORB, bank: orb.Proxy, orb_log: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    import socket

    bank.divide(1, 2)
    host, _, port = server.endpoints[0].partition("://")[2].rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"\x00\x00\x00\x05garbage")
        while raw.recv(65536):
            pass
    record = orb_log.wait_for("handshake")
    assert record.name.startswith("orb.")
    out, err = capfd.readouterr()
    assert out == "" and err == ""
