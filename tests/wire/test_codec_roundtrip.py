"""Every value orb can send arrives as an equal value of exactly the same type."""

from __future__ import annotations

import collections
import datetime
import decimal
import enum
import math
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import orb
from orb._wire import EXT, Call, Codec, Reply, WireRef, qualified_name
from orb._wire._codec import MAX_EXT_DEPTH

from ._support import (
    Box,
    Colour,
    Overdrawn,
    Pair,
    Unregistered,
    make_codec,
    open_pair,
    drain,
    same,
    values,
)

CODEC = make_codec()
ENCODE = CODEC.encoder()
DECODE = CODEC.decoder()


def roundtrip(value: Any) -> Any:
    return DECODE(ENCODE(value))


@settings(deadline=None, max_examples=250)
@given(values)
def test_every_value_round_trips_with_its_type(value: Any) -> None:
    assert same(value, roundtrip(value))


@settings(deadline=None, max_examples=100)
@given(st.lists(values, max_size=3), st.dictionaries(st.text(max_size=8), values, max_size=3),
       values)
def test_values_survive_a_call_and_its_reply_through_connections(
    args: list, kwargs: dict, result: Any
) -> None:
    caller, callee = open_pair()
    callee.receive_data(b"".join(caller.send(
        Call(request_id=2**64 - 1, object_id="obj", method="m", args=args, kwargs=kwargs)
    )))
    (call,) = drain(callee)
    assert call.request_id == 2**64 - 1
    assert same(args, call.args) and same(kwargs, call.kwargs)
    caller.receive_data(b"".join(callee.send(Reply(request_id=call.request_id, value=result))))
    (reply,) = drain(caller)
    assert same(result, reply.value)


@pytest.mark.parametrize(
    "value",
    [
        float("nan"),
        -0.0,
        math.inf,
        decimal.Decimal("sNaN"),
        decimal.Decimal("-NaN123"),
        decimal.Decimal("1.000"),
        decimal.Decimal("-0E-7"),
        complex(math.nan, -0.0),
        datetime.datetime(2024, 2, 29, 23, 59, 59, 999999),
        datetime.datetime(
            2024, 2, 29, 12, 0,
            tzinfo=datetime.timezone(datetime.timedelta(hours=-3, minutes=-30, seconds=-15)),
        ),
        datetime.time(23, 59, 1, 5, tzinfo=datetime.timezone.utc),
        datetime.timedelta(days=-1, microseconds=1),
        (),
        ((((),),),),
        frozenset({(1, 2), frozenset({b"x"})}),
        {(1, "a"): {None: [Colour.BLUE]}},
        Box(Pair(Colour.RED, {1, 2}), label="l", note="n"),
        2**64 - 1,
        -(2**63),
    ],
    ids=repr,
)
def test_edge_values_round_trip(value: Any) -> None:
    assert same(value, roundtrip(value))


def test_fold_is_not_carried() -> None:
    # ISO 8601 has no notation for fold; the time is otherwise exact.
    value = datetime.datetime(2024, 10, 27, 2, 30, fold=1)
    back = roundtrip(value)
    assert back == value and back.fold == 0


def test_subclasses_of_plain_types_travel_as_the_base_type() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    class Point(NamedTuple):
        x: int
        y: int

    assert same(roundtrip(Level.HIGH), 3)
    assert same(roundtrip(Point(1, 2)), (1, 2))
    assert same(roundtrip(collections.OrderedDict(a=1)), {"a": 1})
    assert same(roundtrip(bytearray(b"ab")), b"ab")
    assert same(roundtrip(memoryview(b"ab")), b"ab")


def test_builtin_exceptions_come_back_as_themselves_with_the_traceback() -> None:
    try:
        int("x")
    except ValueError as exc:
        back = roundtrip(exc)
    assert type(back) is ValueError and back.args == ("invalid literal for int() with base 10: 'x'",)
    assert "Traceback" in back.remote_traceback and 'int("x")' in back.remote_traceback
    assert isinstance(back.__cause__, orb.RemoteTraceback)


def test_exception_type_names_on_the_wire() -> None:
    def name_of(exc: BaseException) -> str:
        payload = ENCODE(exc)
        import msgpack

        ext = msgpack.unpackb(payload)
        assert ext.code == EXT.EXCEPTION
        return msgpack.unpackb(ext.data, ext_hook=lambda c, d: None)[0]

    assert name_of(KeyError("k")) == "KeyError"
    assert name_of(orb.ObjectNotFound("gone")) == "orb.ObjectNotFound"
    assert name_of(Overdrawn(1)) == qualified_name(Overdrawn)
    assert name_of(orb.RemoteError("far.Away", "msg")) == "far.Away"


def test_unknown_exception_types_arrive_as_remote_error() -> None:
    back = roundtrip(Unregistered("no such luck"))
    assert type(back) is orb.RemoteError
    assert back.remote_type == qualified_name(Unregistered)
    assert back.remote_message == "no such luck"
    # and it keeps its identity when forwarded again
    again = roundtrip(back)
    assert (again.remote_type, again.remote_message) == (back.remote_type, back.remote_message)


def test_only_exception_classes_are_rebuilt_from_builtins() -> None:
    # A type name naming a builtin that is not an Exception never gets called.
    import msgpack

    for name in ("print", "exit", "KeyboardInterrupt", "SystemExit", "open"):
        payload = msgpack.packb(
            msgpack.ExtType(EXT.EXCEPTION, msgpack.packb([name, ["x"], "m", ""]))
        )
        back = DECODE(payload)
        assert type(back) is orb.RemoteError and back.remote_type == name


def test_exception_args_that_cannot_travel_are_sent_as_their_repr() -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    back = roundtrip(KeyError(Opaque(), 2))
    assert type(back) is KeyError and back.args == ("<Opaque>", 2)


def test_exception_with_broken_str_still_travels() -> None:
    class Broken(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    back = roundtrip(Broken())
    assert type(back) is orb.RemoteError and "unprintable" in back.remote_message


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, "\ud800", object(), len, Codec])
def test_values_that_cannot_travel_raise_encode_error(value: Any) -> None:
    with pytest.raises(orb.EncodeError):
        ENCODE(value)


def test_encode_error_names_the_type_and_the_fix() -> None:
    class Secret:
        pass

    with pytest.raises(orb.EncodeError) as info:
        ENCODE([1, {"k": Secret()}])
    text = str(info.value)
    assert "Secret" in text and "@orb.expose" in text and "register" in text


def test_extension_values_nest_up_to_the_depth_limit() -> None:
    value: Any = None
    for _ in range(MAX_EXT_DEPTH):
        value = (value,)
    assert same(value, roundtrip(value))
    with pytest.raises(orb.EncodeError, match="nest deeper"):
        ENCODE((value,))


def test_deeply_nested_lists_raise_encode_error() -> None:
    value: Any = []
    for _ in range(5000):
        value = [value]
    with pytest.raises(orb.EncodeError):
        ENCODE(value)


def test_value_types_must_be_registered_on_the_receiving_side() -> None:
    payload = ENCODE(Box(1))
    with pytest.raises(orb.ProtocolError, match="not registered"):
        Codec().decoder()(payload)


def test_references_decode_as_wire_refs_without_a_hook() -> None:
    class Thing:
        pass

    thing = Thing()
    encode = Codec().encoder(
        lambda obj: (bytes(16), "abc", ["tcp://127.0.0.1:1"], "m.Thing", 0)
        if obj is thing else None
    )
    back = DECODE(encode([thing]))
    assert back == [WireRef(bytes(16), "abc", ("tcp://127.0.0.1:1",), "m.Thing", 0)]


def test_register_rejects_types_that_are_not_value_types() -> None:
    with pytest.raises(TypeError, match="attrs classes, dataclasses or enums"):
        Codec().register(int)
    assert Codec([Box]).registered() == sorted(
        [qualified_name(Box), *(qualified_name(c) for c in orb._errors.BROKER_ERRORS)]
    )
