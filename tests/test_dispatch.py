"""Dynamic invocation, interface descriptions, the call context and object lookup."""

from __future__ import annotations

import tempfile
import threading
from typing import Any, Optional

import attrs
import pytest

import orb


@orb.expose
class Thermostat:
    """Keeps a room warm.

    Second paragraph of the docstring.
    """

    def __init__(self) -> None:
        self._target = 20.0
        self.log: list[str] = []
        self.noted = threading.Event()

    def set_target(self, celsius: float, *, room: str = "hall") -> str:
        """Set the target temperature of a room."""
        self._target = celsius
        return f"{room}: {celsius}"

    def history(self, limit: Optional[int] = None, *names: str, **filters: Any) -> list[str]:
        return self.log[:limit]

    @orb.oneway
    def note(self, text: str) -> None:
        """Remember something; the caller does not wait."""
        self.log.append(text)
        self.noted.set()

    @property
    def target(self) -> float:
        """Current target in Celsius."""
        return self._target

    @target.setter
    def target(self, value: float) -> None:
        self._target = value

    @property
    def unit(self) -> str:
        return "C"

    def __len__(self) -> int:
        return len(self.log)

    def whoami(self) -> dict[str, Any]:
        context = orb.current()
        return {
            "address": context.peer.address,
            "orb_id": context.peer.orb_id,
            "endpoints": list(context.peer.endpoints),
            "object_id": context.object_id,
            "method": context.method,
            "broker": context.broker.orb_id,
        }


@pytest.fixture
def thermostat() -> Thermostat:
    return Thermostat()


@pytest.fixture
def remote(thermostat: Thermostat, server: orb.ORB, client: orb.ORB) -> orb.Proxy:
    return client.proxy(server.export(thermostat))


# -- orb.invoke -----------------------------------------------------------


def test_invoke_by_name(remote: orb.Proxy) -> None:
    assert orb.invoke(remote, "set_target", 21.5, room="kitchen") == "kitchen: 21.5"
    assert remote.target == 21.5


def test_invoke_a_uri_or_reference(server: orb.ORB, client: orb.ORB) -> None:
    ref = server.export(Thermostat())
    assert orb.invoke(str(ref), "set_target", 18) == "hall: 18"
    assert orb.invoke(ref, "set_target", 19, room="attic") == "attic: 19"


def test_invoke_oneway_returns_none_and_runs(remote: orb.Proxy, thermostat: Thermostat) -> None:
    assert orb.invoke(remote, "note", "window open") is None
    assert thermostat.noted.wait(5)
    assert thermostat.log == ["window open"]


def test_invoke_unknown_name_raises_attribute_error(remote: orb.Proxy) -> None:
    with pytest.raises(AttributeError, match="no exposed method 'warp'"):
        orb.invoke(remote, "warp")


def test_invoke_a_property_name_is_refused(remote: orb.Proxy) -> None:
    with pytest.raises(TypeError, match="property"):
        orb.invoke(remote, "target")


def test_invoke_a_dunder_by_name(remote: orb.Proxy) -> None:
    assert orb.invoke(remote, "__len__") == 0


def test_invoke_on_a_local_object_follows_the_same_rules(thermostat: Thermostat) -> None:
    assert orb.invoke(thermostat, "set_target", 22) == "hall: 22"
    with pytest.raises(AttributeError):
        orb.invoke(thermostat, "__init__")
    with pytest.raises(AttributeError):
        orb.invoke(thermostat, "target")


def test_wrong_arguments_raise_type_error(remote: orb.Proxy) -> None:
    with pytest.raises(TypeError, match="set_target"):
        remote.set_target()


# -- orb.describe ---------------------------------------------------------


def test_describe_remote_interface(remote: orb.Proxy) -> None:
    iface = orb.describe(remote)
    assert isinstance(iface, orb.Interface)
    assert iface.type_name == f"{__name__}.Thermostat"
    assert iface.doc.startswith("Keeps a room warm.") and "Second paragraph" in iface.doc
    names = [m.name for m in iface.methods]
    assert names == sorted(names)
    assert set(names) == {"set_target", "history", "note", "whoami", "__len__"}

    set_target = iface.method("set_target")
    assert isinstance(set_target, orb.Method)
    assert set_target.signature == "(celsius: float, *, room: str = 'hall') -> str"
    assert set_target.doc == "Set the target temperature of a room."
    assert set_target.oneway is False
    assert set_target.returns == "str"
    celsius, room = set_target.parameters
    assert isinstance(celsius, orb.Parameter)
    assert (celsius.name, celsius.kind, celsius.annotation, celsius.default) == (
        "celsius", "POSITIONAL_OR_KEYWORD", "float", None
    )
    assert (room.name, room.kind, room.annotation, room.default) == (
        "room", "KEYWORD_ONLY", "str", "'hall'"
    )

    history = iface.method("history")
    assert [p.kind for p in history.parameters] == [
        "POSITIONAL_OR_KEYWORD", "VAR_POSITIONAL", "VAR_KEYWORD"
    ]
    assert history.parameters[0].annotation == "Optional[int]"
    assert history.returns == "list[str]"

    assert iface.method("note").oneway is True
    assert iface.method("note").doc == "Remember something; the caller does not wait."

    target, unit = iface.properties
    assert isinstance(target, orb.Property)
    assert (target.name, target.writable) == ("target", True)
    assert target.doc == "Current target in Celsius."
    assert (unit.name, unit.writable) == ("unit", False)


def test_describe_annotations_are_strings_without_future_import(
    server: orb.ORB, client: orb.ORB
) -> None:
    # This module uses `from __future__ import annotations`; a class without it
    # has real objects as annotations, which must still arrive as text.
    namespace: dict[str, Any] = {"orb": orb}
    exec(
        "import typing\n"
        "@orb.expose\n"
        "class Typed:\n"
        "    def f(self, a: int, b: typing.Optional[list[str]] = None) -> dict[str, int]:\n"
        "        return {}\n",
        namespace,
    )
    iface = orb.describe(client.proxy(server.export(namespace["Typed"]())))
    method = iface.method("f")
    assert [p.annotation for p in method.parameters] == ["int", "typing.Optional[list[str]]"]
    assert method.returns == "dict[str, int]"
    assert method.signature == "(a: int, b: typing.Optional[list[str]] = None) -> dict[str, int]"


def test_describe_is_a_plain_value(remote: orb.Proxy, thermostat: Thermostat) -> None:
    remote_iface = orb.describe(remote)
    local_iface = orb.describe(thermostat)
    assert remote_iface == local_iface  # the same description on both sides
    assert attrs.asdict(remote_iface)["type_name"] == remote_iface.type_name
    assert orb.describe(Thermostat) == local_iface
    assert sorted(remote_iface.names) == remote_iface.names


def test_describe_by_uri(server: orb.ORB, thermostat: Thermostat) -> None:
    assert orb.describe(str(server.export(thermostat))).type_name.endswith("Thermostat")


def test_describe_is_fetched_once_per_remote_type(server: orb.ORB, client: orb.ORB) -> None:
    first = client.proxy(server.export(Thermostat()))
    second = client.proxy(server.export(Thermostat()))
    assert orb.describe(first) is orb.describe(second)


# -- orb.current ----------------------------------------------------------


def test_current_gives_peer_and_orb_id(remote: orb.Proxy, server: orb.ORB, client: orb.ORB) -> None:
    seen = remote.whoami()
    assert seen["orb_id"] == client.orb_id
    assert seen["broker"] == server.orb_id
    assert seen["endpoints"] == []  # the client listens nowhere
    host, _, port = seen["address"].rpartition(":")
    assert host == "127.0.0.1" and int(port) > 0
    assert seen["object_id"] == orb.ref(remote).object_id
    assert seen["method"] == "whoami"


def test_current_over_a_unix_socket() -> None:
    with tempfile.TemporaryDirectory(prefix="orb-") as directory:
        path = f"{directory}/ctx.sock"
        with orb.ORB(listen=f"unix://{path}") as server, orb.ORB(
            listen="tcp://127.0.0.1:0"
        ) as client:
            seen = client.proxy(server.export(Thermostat())).whoami()
            assert seen["address"] == path
            assert seen["orb_id"] == client.orb_id
            assert seen["endpoints"] == list(client.endpoints)


def test_current_outside_a_call_raises() -> None:
    with pytest.raises(RuntimeError, match="only available inside"):
        orb.current()


def test_current_does_not_leak_to_the_next_call_or_thread(
    remote: orb.Proxy, thermostat: Thermostat
) -> None:
    remote.whoami()
    with pytest.raises(RuntimeError):
        orb.current()
    with pytest.raises(RuntimeError):
        thermostat.whoami()  # a local call has no context


# -- object lookup --------------------------------------------------------


def test_unknown_object_id_raises_object_not_found(server: orb.ORB, client: orb.ORB) -> None:
    ghost = client.proxy(f"orb://{server.endpoints[0].partition('://')[2]}/{'0' * 32}")
    with pytest.raises(orb.ObjectNotFound, match="0" * 32) as info:
        ghost.anything()
    assert isinstance(info.value, LookupError)
    with pytest.raises(orb.ObjectNotFound):
        orb.invoke(ghost, "anything")
    with pytest.raises(orb.ObjectNotFound):
        orb.describe(ghost)
    with pytest.raises(orb.ObjectNotFound):
        len(ghost)
