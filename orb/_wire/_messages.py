"""Protocol messages: one frozen record per message kind, and their wire form.

Every frame carries one msgpack array whose first element is the message
kind. The layout of each kind (docs/PROTOCOL.md has the same table):

====  =============  =====================================================
kind  name           fields after the kind
====  =============  =====================================================
0     HELLO          protocol_version, codec_version, orb_id, endpoints, limits
1     CALL           request_id, object_id, method, args, kwargs
2     ONEWAY         object_id, method, args, kwargs
3     REPLY          request_id, value
4     ERROR          request_id, exception
5     CANCEL         request_id
6     PING           token
7     PONG           token
8     GOODBYE        reason
9     STREAM_ITEMS   request_id, items
10    STREAM_END     request_id
11    STREAM_CREDIT  request_id, count
12    STREAM_CLOSE   request_id
====  =============  =====================================================

The four STREAM kinds carry the result of a Call whose servant returned an
iterator (see orb._streams): the callee sends items in batches while it
has credit, the caller grants more credit as it consumes them and may
close the stream early.

``FIELDS`` lists each kind's fields with the check its value must pass, and
is the single table both encoding and decoding are driven by. The kinds on
the call path (CALL, ONEWAY, REPLY, ERROR) also have hand-written readers
that check a whole array in one expression; tests hold them to FIELDS.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable
from typing import Any, Union

import attrs

from .._errors import LocalProtocolError, ProtocolError

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
    STREAM_ITEMS = 9
    STREAM_END = 10
    STREAM_CREDIT = 11
    STREAM_CLOSE = 12


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


@attrs.frozen(kw_only=True)
class StreamItems:
    """The next batch of items of the stream answering the Call ``request_id``.

    The first one (possibly with no items) tells the caller that the result
    is a stream. The callee never sends more items than the caller's credit.
    """

    request_id: int
    items: list = attrs.Factory(list)


@attrs.frozen(kw_only=True)
class StreamEnd:
    """The stream answering ``request_id`` has no more items."""

    request_id: int


@attrs.frozen(kw_only=True)
class StreamCredit:
    """The caller consumed ``count`` more items: the callee may send that many more."""

    request_id: int
    count: int


@attrs.frozen(kw_only=True)
class StreamClose:
    """The caller stops consuming the stream ``request_id``; the callee stops producing."""

    request_id: int


Message = Union[
    Hello, Call, Oneway, Reply, Error, Cancel, Ping, Pong, Goodbye,
    StreamItems, StreamEnd, StreamCredit, StreamClose,
]


_UINT_END = 2**64


def _uint(value: Any) -> bool:
    return type(value) is int and 0 <= value < _UINT_END


def _str(value: Any) -> bool:
    return type(value) is str


def _list(value: Any) -> bool:
    return type(value) is list


def _kwargs(value: Any) -> bool:
    return type(value) is dict and (not value or all(type(k) is str for k in value))


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
    Kind.STREAM_ITEMS: (StreamItems, (("request_id", _uint), ("items", _list))),
    Kind.STREAM_END: (StreamEnd, (("request_id", _uint),)),
    Kind.STREAM_CREDIT: (StreamCredit, (("request_id", _uint), ("count", _uint))),
    Kind.STREAM_CLOSE: (StreamClose, (("request_id", _uint),)),
}

KIND_OF: dict[type, Kind] = {cls: kind for kind, (cls, _) in FIELDS.items()}
_TUPLE_FIELDS = {"endpoints"}


# -- writing ---------------------------------------------------------------


def _writer(kind: Kind) -> Callable[[Any], list]:
    cls, fields = FIELDS[kind]
    names = [name for name, _ in fields]
    if kind is Kind.HELLO:  # the only kind with a tuple field; msgpack needs a list
        return lambda m: [0, m.protocol_version, m.codec_version, m.orb_id, list(m.endpoints),
                          m.limits]
    get = operator.attrgetter(*names)
    number = int(kind)
    if len(names) == 1:
        return lambda m: [number, get(m)]
    return lambda m: [number, *get(m)]


#: message class -> function building its msgpack array.
_WRITERS: dict[type, Callable[[Any], list]] = {cls: _writer(kind) for cls, kind in KIND_OF.items()}


def to_wire(message: Message) -> list:
    """The msgpack array for ``message``: its kind, then its fields in order."""
    writer = _WRITERS.get(type(message))
    if writer is None:
        raise LocalProtocolError(f"{type(message).__name__} is not an orb protocol message")
    return writer(message)


# -- reading ---------------------------------------------------------------
#
# Every kind has a reader that checks the array against FIELDS. The kinds of
# the call path have hand-written readers that test all fields in one
# expression; when that test fails, _invalid() walks FIELDS to name the bad
# field. tests/wire checks that both agree on every input.


def _invalid(kind: Kind, array: list) -> ProtocolError:
    _, fields = FIELDS[kind]
    if len(array) != len(fields) + 1:
        return ProtocolError(f"{kind.name} needs {len(fields)} fields, got {len(array) - 1}")
    for (name, check), value in zip(fields, array[1:]):
        if not check(value):
            return ProtocolError(f"{kind.name}: invalid {name} {_short(value)}")
    return ProtocolError(f"invalid {kind.name} message")  # pragma: no cover - readers agree


def _generic_reader(kind: Kind) -> Callable[[list], Message]:
    cls, fields = FIELDS[kind]
    size = len(fields) + 1

    def read(array: list) -> Message:
        if len(array) != size or not all(
            check(value) for (_, check), value in zip(fields, array[1:])
        ):
            raise _invalid(kind, array)
        return cls(**{
            name: tuple(value) if name in _TUPLE_FIELDS else value
            for (name, _), value in zip(fields, array[1:])
        })

    return read


def _builder(cls: type) -> Callable[..., Any]:
    """Make a ``cls`` record from its field values in wire order, skipping ``__init__``.

    The readers below have checked every field already; setting the slots
    directly costs half of what the generated ``__init__`` does.
    """
    _, fields = FIELDS[KIND_OF[cls]]
    setters = tuple(getattr(cls, name).__set__ for name, _ in fields)
    new = object.__new__

    if len(setters) == 2:
        set1, set2 = setters

        def build2(v1: Any, v2: Any) -> Any:
            record = new(cls)
            set1(record, v1)
            set2(record, v2)
            return record

        return build2
    if len(setters) == 4:
        set1, set2, set3, set4 = setters

        def build4(v1: Any, v2: Any, v3: Any, v4: Any) -> Any:
            record = new(cls)
            set1(record, v1)
            set2(record, v2)
            set3(record, v3)
            set4(record, v4)
            return record

        return build4
    set1, set2, set3, set4, set5 = setters

    def build5(v1: Any, v2: Any, v3: Any, v4: Any, v5: Any) -> Any:
        record = new(cls)
        set1(record, v1)
        set2(record, v2)
        set3(record, v3)
        set4(record, v4)
        set5(record, v5)
        return record

    return build5


_new_call = _builder(Call)
_new_oneway = _builder(Oneway)
_new_reply = _builder(Reply)
_new_error = _builder(Error)


def _read_call(array: list) -> Message:
    if len(array) == 6:
        _, request_id, object_id, method, args, kwargs = array
        if (
            type(request_id) is int and 0 <= request_id < _UINT_END
            and type(object_id) is str and type(method) is str
            and type(args) is list and _kwargs(kwargs)
        ):
            return _new_call(request_id, object_id, method, args, kwargs)
    raise _invalid(Kind.CALL, array)


def _read_oneway(array: list) -> Message:
    if len(array) == 5:
        _, object_id, method, args, kwargs = array
        if type(object_id) is str and type(method) is str and type(args) is list and _kwargs(
            kwargs
        ):
            return _new_oneway(object_id, method, args, kwargs)
    raise _invalid(Kind.ONEWAY, array)


def _read_reply(array: list) -> Message:
    if len(array) == 3:
        request_id = array[1]
        if type(request_id) is int and 0 <= request_id < _UINT_END:
            return _new_reply(request_id, array[2])
    raise _invalid(Kind.REPLY, array)


def _read_error(array: list) -> Message:
    if len(array) == 3:
        _, request_id, exception = array
        if type(request_id) is int and 0 <= request_id < _UINT_END and isinstance(
            exception, BaseException
        ):
            return _new_error(request_id, exception)
    raise _invalid(Kind.ERROR, array)


#: kind number -> reader built from FIELDS alone (the reference for the fast readers).
GENERIC_READERS: dict[int, Callable[[list], Message]] = {
    int(kind): _generic_reader(kind) for kind in Kind
}

#: kind number -> reader of that kind's array.
READERS: dict[int, Callable[[list], Message]] = {
    **GENERIC_READERS,
    int(Kind.CALL): _read_call,
    int(Kind.ONEWAY): _read_oneway,
    int(Kind.REPLY): _read_reply,
    int(Kind.ERROR): _read_error,
}


def from_wire(array: Any) -> Message:
    """The message for a decoded frame; raises ProtocolError on any mismatch."""
    if type(array) is list and array:
        kind = array[0]
        reader = READERS.get(kind) if type(kind) is int else None
        if reader is not None:
            return reader(array)
        raise ProtocolError(f"unknown message kind {_short(kind)}")
    raise ProtocolError("a frame must hold a non-empty msgpack array")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
