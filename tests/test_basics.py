"""First contact: export, proxy, call, over a real loopback socket."""

from __future__ import annotations

import pytest

import orb


@orb.expose
class Calculator:
    """Adds numbers."""

    def add(self, a: int, b: int = 2) -> int:
        """Return a + b."""
        return a + b

    def fail(self) -> None:
        raise ValueError("bad input")


def test_call_returns_result(server: orb.ORB, client: orb.ORB) -> None:
    ref = server.export(Calculator())
    calc = client.proxy(str(ref))
    assert calc.add(2, 3) == 5
    assert calc.add(40) == 42


def test_remote_exception_keeps_type_and_traceback(server: orb.ORB, client: orb.ORB) -> None:
    calc = client.proxy(server.export(Calculator()))
    with pytest.raises(ValueError, match="bad input") as info:
        calc.fail()
    assert 'raise ValueError("bad input")' in info.value.remote_traceback
    assert isinstance(info.value.__cause__, orb.RemoteTraceback)
