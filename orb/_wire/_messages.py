"""Protocol messages: one frozen record per message kind, and their wire form.

Every frame carries one msgpack array whose first element is the message
kind. The layout of each kind (docs/PROTOCOL.md has the same table):

====  =========  =====================================================
kind  name       fields after the kind
====  =========  =====================================================
0     HELLO      protocol_version, codec_version, orb_id, endpoints, limits
1     CALL       request_id, object_id, method, args, kwargs
2     ONEWAY     object_id, method, args, kwargs
3     REPLY      request_id, value
4     ERROR      request_id, exception
5     CANCEL     request_id
6     PING       token
7     PONG       token
8     GOODBYE    reason
====  =========  =====================================================

``FIELDS`` lists each kind's fields with the check its value must pass, and
is the single table both encoding and decoding are driven by.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, Union

import attrs

from .._errors import ProtocolError

#: Version of the message layout, announced in the handshake.
PROTOCOL_VERSION = 1


class Kind(enum.IntEnum):
    """Message kinds; the first element of every frame's array."""

    HELLO = 0
    CALL = 1
    ONEWAY = 2
    REPLY = 3
    ERROR = 4
    CANCEL = 5
    PING = 6
    PONG = 7
    GOODBYE = 8


@attrs.frozen(kw_only=True)
class Hello:
    """The first message each side sends: who it is and what it accepts."""

    protocol_version: int = PROTOCOL_VERSION
    codec_version: int
    orb_id: bytes
    endpoints: tuple[str, ...] = ()
    limits: dict[str, int] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class Call:
    """Invoke ``method`` on ``object_id`` and send back a Reply or Error."""

    request_id: int
    object_id: str
    method: str
    args: list = attrs.Factory(list)
    kwargs: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class Oneway:
    """Invoke ``method`` on ``object_id``; no reply is ever sent."""

    object_id: str
    method: str
    args: list = attrs.Factory(list)
    kwargs: dict[str, Any] = attrs.Factory(dict)


@attrs.frozen(kw_only=True)
class Reply:
    """The result of the Call with the same request id."""

    request_id: int
    value: Any = None


@attrs.frozen(kw_only=True)
class Error:
    """The exception raised by the Call with the same request id."""

    request_id: int
    exception: Any


@attrs.frozen(kw_only=True)
class Cancel:
    """The caller no longer waits for this request id."""

    request_id: int


@attrs.frozen(kw_only=True)
class Ping:
    """Liveness check; answered by a Pong with the same token."""

    token: int


@attrs.frozen(kw_only=True)
class Pong:
    """Answer to a Ping."""

    token: int


@attrs.frozen(kw_only=True)
class Goodbye:
    """The sender is closing the connection; ``reason`` says why."""

    reason: str = ""


Message = Union[Hello, Call, Oneway, Reply, Error, Cancel, Ping, Pong, Goodbye]


def _uint(value: Any) -> bool:
    return type(value) is int and 0 <= value < 2**64


def _str(value: Any) -> bool:
    return type(value) is str


def _list(value: Any) -> bool:
    return type(value) is list


def _kwargs(value: Any) -> bool:
    return type(value) is dict and all(type(k) is str for k in value)


def _orb_id(value: Any) -> bool:
    return type(value) is bytes and len(value) == 16


def _endpoints(value: Any) -> bool:
    return type(value) is list and all(type(e) is str for e in value)


def _limits(value: Any) -> bool:
    return type(value) is dict and all(type(k) is str and type(v) is int for k, v in value.items())


def _anything(value: Any) -> bool:
    return True


def _exception(value: Any) -> bool:
    return isinstance(value, BaseException)


Check = Callable[[Any], bool]

#: kind -> (record class, ((field name, check), ...)), in wire order.
FIELDS: dict[Kind, tuple[type, tuple[tuple[str, Check], ...]]] = {
    Kind.HELLO: (
        Hello,
        (
            ("protocol_version", _uint),
            ("codec_version", _uint),
            ("orb_id", _orb_id),
            ("endpoints", _endpoints),
            ("limits", _limits),
        ),
    ),
    Kind.CALL: (
        Call,
        (
            ("request_id", _uint),
            ("object_id", _str),
            ("method", _str),
            ("args", _list),
            ("kwargs", _kwargs),
        ),
    ),
    Kind.ONEWAY: (
        Oneway,
        (("object_id", _str), ("method", _str), ("args", _list), ("kwargs", _kwargs)),
    ),
    Kind.REPLY: (Reply, (("request_id", _uint), ("value", _anything))),
    Kind.ERROR: (Error, (("request_id", _uint), ("exception", _exception))),
    Kind.CANCEL: (Cancel, (("request_id", _uint),)),
    Kind.PING: (Ping, (("token", _uint),)),
    Kind.PONG: (Pong, (("token", _uint),)),
    Kind.GOODBYE: (Goodbye, (("reason", _str),)),
}

KIND_OF: dict[type, Kind] = {cls: kind for kind, (cls, _) in FIELDS.items()}
_NAMES = {kind: tuple(name for name, _ in fields) for kind, (_, fields) in FIELDS.items()}
_TUPLE_FIELDS = {"endpoints"}


def to_wire(message: Message) -> list:
    """The msgpack array for ``message``: its kind, then its fields in order."""
    kind = KIND_OF[type(message)]
    out: list = [int(kind)]
    for name in _NAMES[kind]:
        value = getattr(message, name)
        out.append(list(value) if name in _TUPLE_FIELDS else value)
    return out


def from_wire(array: Any) -> Message:
    """The message for a decoded frame; raises ProtocolError on any mismatch."""
    if type(array) is not list or not array:
        raise ProtocolError("a frame must hold a non-empty msgpack array")
    try:
        kind = Kind(array[0])
    except (ValueError, TypeError):
        raise ProtocolError(f"unknown message kind {array[0]!r}") from None
    cls, fields = FIELDS[kind]
    if len(array) != len(fields) + 1:
        raise ProtocolError(
            f"{kind.name} needs {len(fields)} fields, got {len(array) - 1}"
        )
    values = {}
    for (name, check), value in zip(fields, array[1:]):
        if not check(value):
            raise ProtocolError(f"{kind.name}: invalid {name} {_short(value)}")
        values[name] = tuple(value) if name in _TUPLE_FIELDS else value
    return cls(**values)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
