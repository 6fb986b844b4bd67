"""References travel by reference, values by value."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import pickle
import uuid
from typing import Any

import attrs
import pytest

import orb


@orb.expose
class Node:
    """A tree node living in the server."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.children: list[Any] = []

    def get_name(self) -> str:
        return self.name

    def child(self, name: str) -> Node:
        node = Node(name)
        self.children.append(node)
        return node

    def adopt(self, node: Any) -> str:
        self.children.append(node)
        return node.get_name()

    def is_same(self, other: Any) -> bool:
        return other is self

    def echo(self, value: Any) -> Any:
        return value

    def kind_of(self, value: Any) -> str:
        return type(value).__name__

    def children_of_kind(self) -> list[str]:
        return [type(c).__name__ for c in self.children]


@orb.expose(instance="per_call")
class PerCallThing:
    def is_same(self, other: Any) -> bool:
        return other is self


@attrs.frozen
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Box:
    label: str
    corners: tuple[Point, Point]
    tags: set[str] = dataclasses.field(default_factory=set)


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class NotExposed:
    pass


@pytest.fixture
def root(server: orb.ORB) -> Node:
    return Node("root")


@pytest.fixture
def remote(root: Node, server: orb.ORB, client: orb.ORB) -> orb.Proxy:
    return client.proxy(server.export(root))


# -- by reference -----------------------------------------------------------


def test_returned_exposed_object_arrives_as_a_proxy(remote: orb.Proxy, root: Node) -> None:
    kid = remote.child("kid")
    assert isinstance(kid, orb.Proxy)
    assert kid.get_name() == "kid"
    assert isinstance(root.children[0], Node)  # the real one stays on the server
    assert orb.ref(kid).orb_id == orb.ref(remote).orb_id
    assert orb.ref(kid).object_id != orb.ref(remote).object_id


def test_exposed_argument_arrives_as_a_proxy(
    remote: orb.Proxy, root: Node, client: orb.ORB
) -> None:
    local = Node("local")
    assert remote.adopt(local) == "local"  # the server called back into the client
    assert root.children_of_kind() == ["Proxy"]
    assert orb.ref(root.children[0]).orb_id == client.orb_id


def test_proxy_coming_home_is_the_original_object(remote: orb.Proxy, root: Node) -> None:
    assert remote.is_same(remote)
    kid = remote.child("kid")
    assert remote.echo(kid) == kid
    assert kid.is_same(kid)
    assert not remote.is_same(kid)
    assert root.children[0].is_same(root.children[0])


def test_proxy_made_from_a_uri_comes_home_as_the_original(
    server: orb.ORB, client: orb.ORB, root: Node
) -> None:
    uri = str(server.export(root))
    fresh = client.proxy(uri)
    assert fresh.is_same(fresh)  # before any other call: recognised by its endpoint
    used = client.proxy(uri)
    used.get_name()
    assert used.is_same(used)  # after connecting: recognised by its ORB id


def test_per_call_decorated_object_still_comes_home(server: orb.ORB, client: orb.ORB) -> None:
    thing = client.proxy(server.export(PerCallThing()))
    assert thing.is_same(thing)


def test_local_object_comes_back_as_itself(remote: orb.Proxy) -> None:
    local = Node("mine")
    assert remote.echo(local) is local  # out as a reference, home as the object
    assert remote.echo([local, {"k": local}]) == [local, {"k": local}]
    assert remote.echo([local])[0] is local


def test_same_reference_twice_gives_the_same_proxy(remote: orb.Proxy) -> None:
    kid = remote.child("kid")
    again = remote.echo(kid)
    twice = remote.echo([kid, kid])
    assert twice[0] is twice[1]
    assert again == kid and hash(again) == hash(kid)


def test_proxies_to_the_same_object_are_equal(
    server: orb.ORB, client: orb.ORB, root: Node
) -> None:
    ref = server.export(root)
    a, b = client.proxy(ref), client.proxy(ref)
    assert a == b and hash(a) == hash(b)
    assert a != client.proxy(server.export(Node("other")))
    assert len({a, b}) == 1


def test_proxy_passed_to_a_third_broker_is_called_directly(
    server: orb.ORB, client: orb.ORB, root: Node
) -> None:
    with orb.ORB(listen="tcp://127.0.0.1:0") as third:
        holder = Node("holder")
        holder_remote = client.proxy(third.export(holder))
        assert holder_remote.adopt(client.proxy(server.export(root))) == "root"
        held = holder.children[0]
        assert isinstance(held, orb.Proxy)
        assert orb.ref(held).orb_id == server.orb_id
        peers = {c["orb_id"] for c in third.stats()["connections"]}
        assert server.orb_id.hex() in peers  # the third broker dialled the server itself


def test_proxy_cannot_be_pickled(remote: orb.Proxy) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(remote)


# -- callbacks --------------------------------------------------------------


@orb.expose
class Listener:
    def __init__(self) -> None:
        self.heard: list[str] = []
        self.peers: list[bytes] = []

    def hear(self, message: str) -> str:
        self.heard.append(message)
        self.peers.append(orb.current().peer.orb_id)
        return message.upper()


@orb.expose
class Publisher:
    def __init__(self) -> None:
        self.listeners: list[Any] = []

    def subscribe(self, listener: Any) -> None:
        self.listeners.append(listener)

    def publish(self, message: str) -> list[str]:
        return [listener.hear(message) for listener in self.listeners]


def test_callbacks_into_a_client_only_orb(server: orb.ORB) -> None:
    publisher = server.export(Publisher())
    with orb.ORB() as one, orb.ORB() as two:
        first, second = Listener(), Listener()
        one.proxy(publisher).subscribe(first)
        two.proxy(publisher).subscribe(second)
        assert one.proxy(publisher).publish("hi") == ["HI", "HI"]
        assert first.heard == ["hi"] and second.heard == ["hi"]
        assert first.peers == [server.orb_id]
        # No listener anywhere on the client side; one connection each.
        assert one.endpoints == () and two.endpoints == ()
        assert [c["direction"] for c in one.stats()["connections"]] == ["outgoing"]


def test_callback_fails_cleanly_once_the_client_is_gone(server: orb.ORB) -> None:
    publisher = Publisher()
    ref = server.export(publisher)
    with orb.ORB() as gone:
        gone.proxy(ref).subscribe(Listener())
    with pytest.raises(orb.CommunicationError):
        publisher.publish("anyone there?")


def test_nested_callback_on_the_same_connection(server: orb.ORB, client: orb.ORB) -> None:
    # client -> server -> client -> server, all over one connection.
    @orb.expose
    class Bouncer:
        def bounce(self, other: Any, depth: int) -> int:
            return depth if depth == 0 else other.bounce(self, depth - 1)

    remote = client.proxy(server.export(Bouncer()))
    assert remote.bounce(Bouncer(), 6) == 0
    assert len(client.stats()["connections"]) == 1


# -- by value ---------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        None, True, 7, -2**63, 2**64 - 1, 1.5, "text ✓", b"\x00bytes", [1, [2]], {"a": {"b": 1}},
        (1, (2, "x")), {1, 2}, frozenset({"f"}), {1: "int key", (1, 2): "tuple key"},
        datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.timezone.utc),
        datetime.date(2024, 5, 1), datetime.time(12, 30, 1), datetime.timedelta(days=2, seconds=3),
        decimal.Decimal("1.10"), uuid.UUID(int=12345), 3 + 4j,
    ],
    ids=repr,
)
def test_plain_values_keep_their_type(remote: orb.Proxy, value: Any) -> None:
    result = remote.echo(value)
    assert result == value
    assert type(result) is type(value)


def test_registered_value_types_travel_by_value(server: orb.ORB) -> None:
    for cls in (Point, Box, Colour):
        server.codec.register(cls)
    ref = server.export(Node("values"))
    with orb.ORB(types=[Point, Box, Colour]) as client:
        remote = client.proxy(ref)
        box = Box("b", (Point(0, 0), Point(2, 3)), {"red"})
        result = remote.echo(box)
        assert result == box and result is not box
        assert type(result.corners[1]) is Point
        assert remote.kind_of(box) == "Box"  # the server got a Box, not a proxy
        assert remote.kind_of(Point(1, 1)) == "Point"
        assert remote.echo(Colour.BLUE) is Colour.BLUE


def test_unregistered_value_type_is_refused_at_the_sender(
    server: orb.ORB, client: orb.ORB, root: Node
) -> None:
    remote = client.proxy(server.export(root))
    with pytest.raises(orb.EncodeError) as info:
        remote.echo(Point(1, 2))
    message = str(info.value)
    assert f"{__name__}.Point" in message
    assert "@orb.expose" in message and "register" in message
    assert isinstance(info.value, TypeError)
    assert remote.get_name() == "root"  # the connection is unharmed


def test_non_exposed_argument_fails_at_the_sender(
    remote: orb.Proxy, root: Node, orb_log: Any
) -> None:
    calls_before = len(root.children)
    with pytest.raises(orb.EncodeError, match=r"NotExposed.*@orb\.expose"):
        remote.adopt(NotExposed())
    with pytest.raises(orb.EncodeError, match="NotExposed"):
        remote.echo({"nested": [NotExposed()]})
    assert len(root.children) == calls_before  # nothing reached the server
    assert remote.get_name() == "root"


def test_unsendable_result_becomes_an_error_for_the_caller(
    server: orb.ORB, client: orb.ORB
) -> None:
    @orb.expose
    class Leaky:
        def leak(self) -> Any:
            return NotExposed()

    with pytest.raises(orb.EncodeError, match="NotExposed"):
        client.proxy(server.export(Leaky())).leak()


def test_an_object_ref_travels_as_the_reference_it_describes(server: orb.ORB, client: orb.ORB) -> None:
    @orb.expose
    class Keeper:
        def keep(self, thing: object) -> object:
            return thing

    target = Keeper()
    ref = server.export(target)
    keeper = client.proxy(server.export(Keeper()))
    back = keeper.keep(ref)  # an ObjectRef argument arrives at its home as the object
    assert isinstance(back, orb.Proxy) and orb.ref(back).object_id == ref.object_id
