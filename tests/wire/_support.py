"""Shared helpers of the wire tests: value strategies, exact equality, connection pairs."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
from typing import Any

import attrs
from hypothesis import strategies as st

import orb
from orb._wire import CODEC_VERSION, Codec, Connection, Hello, WireRef


# -- registered types -----------------------------------------------------------


@attrs.define
class Box:
    """A registered attrs value type with a private field (exercises init aliases)."""

    content: Any
    label: str = ""
    _note: str = ""


@dataclasses.dataclass
class Pair:
    """A registered dataclass value type."""

    left: Any
    right: Any


class Colour(enum.Enum):
    RED = "red"
    GREEN = 2
    BLUE = (3, "three")


class Overdrawn(Exception):
    """A registered application exception."""


class Unregistered(Exception):
    """An exception type the receiving codec does not know."""


REGISTERED = (Box, Pair, Colour, Overdrawn)


def make_codec() -> Codec:
    """A codec that knows the registered types above."""
    return Codec(REGISTERED)


# -- exact equality ---------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """True when ``b`` is ``a`` after a round trip: same types all the way down.

    Floats compare NaN-equal and sign-of-zero exact; Decimals compare by
    their exact text; sets match element by element; exceptions compare type
    and args (the remote traceback is extra data on the decoded one).
    """
    if type(a) is not type(b):
        return False
    compare = _COMPARE.get(type(a))
    if compare is not None:
        return compare(a, b)
    if isinstance(a, enum.Enum):
        return a is b
    if attrs.has(type(a)):
        return all(same(getattr(a, f.name), getattr(b, f.name)) for f in attrs.fields(type(a)))
    if dataclasses.is_dataclass(a):
        return all(
            same(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, BaseException):
        if isinstance(a, orb.RemoteError):
            return (a.remote_type, a.remote_message) == (b.remote_type, b.remote_message)
        return same(a.args, b.args)
    return bool(a == b)


def _same_float(a: float, b: float) -> bool:
    if math.isnan(a):
        return math.isnan(b)
    return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)


def _same_sequence(a: Any, b: Any) -> bool:
    return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))


def _same_dict(a: dict, b: dict) -> bool:
    # msgpack keeps map order, so keys and values pair up in order.
    return _same_sequence(list(a.items()), list(b.items()))


def _same_set(a: Any, b: Any) -> bool:
    if len(a) != len(b):
        return False
    unmatched = list(b)
    for x in a:
        for i, y in enumerate(unmatched):
            if same(x, y):
                del unmatched[i]
                break
        else:
            return False
    return True


def _same_moment(a: Any, b: Any) -> bool:
    # fold is not carried: ISO 8601 text has no notation for it.
    return (a.tzinfo is None) == (b.tzinfo is None) and a.utcoffset() == b.utcoffset() and a == b


_COMPARE = {
    float: _same_float,
    complex: lambda a, b: _same_float(a.real, b.real) and _same_float(a.imag, b.imag),
    decimal.Decimal: lambda a, b: str(a) == str(b),
    list: _same_sequence,
    tuple: _same_sequence,
    dict: _same_dict,
    set: _same_set,
    frozenset: _same_set,
    datetime.datetime: _same_moment,
    datetime.time: _same_moment,
    WireRef: _same_sequence,
}


# -- strategies -------------------------------------------------------------------

# Whole-second offsets: Python 3.11's fromisoformat reads an offset under one
# second as UTC (docs/PROTOCOL.md notes it).
fixed_offsets = st.integers(min_value=-86399, max_value=86399).map(
    lambda seconds: datetime.timezone(datetime.timedelta(seconds=seconds))
)

ints = st.integers(min_value=-(2**63), max_value=2**64 - 1)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    st.floats(),  # includes nan, inf and -0.0
    st.text(),
    st.binary(),
    st.datetimes(),
    st.datetimes(timezones=fixed_offsets),
    st.dates(),
    st.times(),
    st.times(timezones=fixed_offsets),
    st.timedeltas(),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.decimals(places=3, allow_nan=False),
    st.uuids(),
    st.complex_numbers(),
    st.sampled_from(Colour),
)

hashables = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        ints,
        st.floats(allow_nan=False),
        st.text(),
        st.binary(),
        st.dates(),
        st.uuids(),
        st.sampled_from(Colour),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(inner, max_size=3),
    ),
    max_leaves=6,
)


def _exceptions(children: st.SearchStrategy) -> st.SearchStrategy:
    simple = st.one_of(st.none(), ints, st.text(max_size=20))
    return st.one_of(
        st.builds(ValueError, simple),
        st.builds(KeyError, children),
        st.builds(TypeError, simple, simple),
        st.builds(RuntimeError),
        st.builds(Overdrawn, children),
        st.builds(orb.ObjectNotFound, st.text(max_size=20)),
        st.builds(orb.TimeoutError, st.text(max_size=20)),
    )


values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(hashables, children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.sets(hashables, max_size=4),
        st.frozensets(hashables, max_size=4),
        st.builds(Box, children, st.text(max_size=5), st.text(max_size=5)),
        st.builds(Pair, children, children),
        _exceptions(children),
    ),
    max_leaves=12,
)


# -- connections ------------------------------------------------------------------

ORB_A = bytes(range(16))
ORB_B = bytes(range(16, 32))


def connection(
    orb_id: bytes = ORB_A,
    *,
    codec: Codec | None = None,
    max_frame_size: int = 1024 * 1024,
    **hello: Any,
) -> Connection:
    """A fresh Connection (nothing sent yet) with a registered-types codec."""
    codec = codec or make_codec()
    return Connection(
        hello=Hello(codec_version=CODEC_VERSION, orb_id=orb_id, **hello),
        encode=codec.encoder(),
        decode=codec.decoder(),
        max_frame_size=max_frame_size,
    )


def drain(conn: Connection) -> list[Any]:
    """Every event ``conn`` can produce from the bytes it has, up to NEED_DATA or close."""
    events = []
    while True:
        event = conn.next_event()
        if event is orb._wire.NEED_DATA:
            return events
        events.append(event)
        if isinstance(event, orb._wire.ConnectionClosed):
            return events


def open_pair(**kwargs: Any) -> tuple[Connection, Connection]:
    """Two connections that exchanged Hellos and are OPEN."""
    a = connection(ORB_A, **kwargs)
    b = connection(ORB_B, **kwargs)
    hello_a, hello_b = b"".join(a.start()), b"".join(b.start())
    b.receive_data(hello_a)
    a.receive_data(hello_b)
    assert isinstance(drain(a)[0], Hello) and isinstance(drain(b)[0], Hello)
    return a, b
