"""The value codec: msgpack plus orb's extension types.

Plain msgpack types travel as themselves. Everything else that may travel
by value has an extension type, listed in ``EXT`` below and specified in
docs/PROTOCOL.md. Exposed objects and proxies travel as object references;
what a reference means is decided by the layer above through two hooks:

* ``export_ref(obj)`` is asked for any value the codec does not know; it
  returns ``(orb_id, object_id, endpoints, interface)`` or ``None``.
* ``import_ref(orb_id, object_id, endpoints, interface)`` turns a decoded
  reference into whatever the caller wants (a proxy, a local object).

Nothing is ever unpickled: decoding builds only the types named here, and
value types and exceptions that were registered with this codec by name.

A :class:`Codec` is an instance: value types register on it, not on a
module, so two brokers in one process can speak different vocabularies.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime
import decimal
import enum
import struct
import traceback
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

import attrs
import msgpack

from .._errors import BROKER_ERRORS, EncodeError, ProtocolError, RemoteError, RemoteTraceback

#: Version of the value encoding, announced in the handshake.
CODEC_VERSION = 1


class EXT:
    """msgpack extension type codes used by orb (see docs/PROTOCOL.md)."""

    REF = 1
    TUPLE = 2
    SET = 3
    FROZENSET = 4
    DATETIME = 5
    DATE = 6
    TIME = 7
    TIMEDELTA = 8
    DECIMAL = 9
    UUID = 10
    COMPLEX = 11
    VALUE = 12
    EXCEPTION = 13


class WireRef(NamedTuple):
    """A decoded object reference, as delivered when no ``import_ref`` hook is given."""

    orb_id: bytes
    object_id: str
    endpoints: tuple[str, ...]
    interface: str


ExportRef = Callable[[Any], "tuple[bytes, bytes, Sequence[str], str] | None"]
ImportRef = Callable[[bytes, bytes, tuple, str], Any]

_COMPLEX = struct.Struct(">dd")
# Subclasses of these travel as the base type (an IntEnum as its int value),
# unless the subclass is registered as a value type.
_BASE_CONVERSIONS: tuple[tuple[type, Callable[[Any], Any]], ...] = (
    (int, int.__int__),
    (float, float.__float__),
    (str, str.__str__),
    (bytes, lambda b: bytes(memoryview(b))),
    (list, list),
    (dict, dict),
)


@attrs.frozen
class ValueType:
    """How one registered value type is taken apart and rebuilt."""

    cls: type
    name: str
    to_fields: Callable[[Any], dict]
    from_fields: Callable[[dict], Any]


def _value_type_for(cls: type, name: str) -> ValueType:
    if isinstance(cls, type) and issubclass(cls, enum.Enum):
        return ValueType(cls, name, lambda e: {"value": e.value}, lambda f: cls(f["value"]))
    if attrs.has(cls):
        names = [a.name for a in attrs.fields(cls) if a.init]
        init_names = {a.name: (a.alias or a.name.lstrip("_")) for a in attrs.fields(cls) if a.init}
        return ValueType(
            cls,
            name,
            lambda obj: {n: getattr(obj, n) for n in names},
            lambda f: cls(**{init_names[k]: v for k, v in f.items()}),
        )
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        return ValueType(
            cls, name, lambda obj: {n: getattr(obj, n) for n in names}, lambda f: cls(**f)
        )
    raise TypeError(
        f"cannot register {cls.__qualname__}: value types must be attrs classes, "
        "dataclasses or enums (exceptions are registered with register_exception)"
    )


def qualified_name(cls: type) -> str:
    """The wire name of a type: ``module.QualName``, with builtins unprefixed."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


class Codec:
    """Encodes values to msgpack bytes and back, with orb's extension types.

    ``types`` are value types (attrs classes, dataclasses, enums) and
    exception classes to register up front; see :meth:`register`.
    """

    def __init__(self, types: Iterable[type] = ()) -> None:
        self._values_by_type: dict[type, ValueType] = {}
        self._values_by_name: dict[str, ValueType] = {}
        self._exceptions: dict[str, type[BaseException]] = {
            qualified_name(cls): cls for cls in BROKER_ERRORS
        }
        for cls in types:
            self.register(cls)

    # -- registration ---------------------------------------------------

    def register(self, cls: type, name: str | None = None) -> type:
        """Register a value type or an exception class so it travels as itself.

        Value types are attrs classes, dataclasses and enums; they travel by
        value, field by field. Exception classes are rebuilt from their
        ``args`` on the receiving side. ``name`` defaults to
        ``module.QualName`` and must be the same on both sides. Returns
        ``cls``, so this works as a decorator.
        """
        name = name or qualified_name(cls)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            self._exceptions[name] = cls
            return cls
        value_type = _value_type_for(cls, name)
        self._values_by_type[cls] = value_type
        self._values_by_name[name] = value_type
        return cls

    def registered(self) -> list[str]:
        """Names of the registered value types and exceptions."""
        return sorted([*self._values_by_name, *self._exceptions])

    # -- encoding -------------------------------------------------------

    def encoder(self, export_ref: ExportRef | None = None) -> Callable[[Any], bytes]:
        """A function ``value -> bytes``; safe to call from several threads."""
        encoders: dict[type, Callable[[Any], msgpack.ExtType]] = {
            tuple: lambda v: msgpack.ExtType(EXT.TUPLE, pack(list(v))),
            set: lambda v: msgpack.ExtType(EXT.SET, pack(list(v))),
            frozenset: lambda v: msgpack.ExtType(EXT.FROZENSET, pack(list(v))),
            datetime.datetime: lambda v: msgpack.ExtType(EXT.DATETIME, v.isoformat().encode()),
            datetime.date: lambda v: msgpack.ExtType(EXT.DATE, v.isoformat().encode()),
            datetime.time: lambda v: msgpack.ExtType(EXT.TIME, v.isoformat().encode()),
            datetime.timedelta: lambda v: msgpack.ExtType(
                EXT.TIMEDELTA, pack([v.days, v.seconds, v.microseconds])
            ),
            decimal.Decimal: lambda v: msgpack.ExtType(EXT.DECIMAL, str(v).encode()),
            uuid.UUID: lambda v: msgpack.ExtType(EXT.UUID, v.bytes),
            complex: lambda v: msgpack.ExtType(EXT.COMPLEX, _COMPLEX.pack(v.real, v.imag)),
        }
        values_by_type = self._values_by_type
        packers: list[msgpack.Packer] = []

        def default(obj: Any) -> Any:
            cls = type(obj)
            encode = encoders.get(cls)
            if encode is not None:
                return encode(obj)
            value_type = values_by_type.get(cls)
            if value_type is not None:
                return msgpack.ExtType(
                    EXT.VALUE, pack([value_type.name, value_type.to_fields(obj)])
                )
            if export_ref is not None:
                ref = export_ref(obj)
                if ref is not None:
                    orb_id, object_id, endpoints, interface = ref
                    return msgpack.ExtType(
                        EXT.REF, pack([orb_id, object_id, list(endpoints), interface])
                    )
            if isinstance(obj, BaseException):
                return msgpack.ExtType(EXT.EXCEPTION, pack(self._exception_fields(obj, pack)))
            if isinstance(obj, tuple):  # namedtuples travel as plain tuples
                return msgpack.ExtType(EXT.TUPLE, pack(list(obj)))
            for base, convert in _BASE_CONVERSIONS:
                if isinstance(obj, base):
                    return convert(obj)
            raise EncodeError(_cannot_encode_message(cls))

        def pack(value: Any) -> bytes:
            # Packers are reused through a free list: list.pop/append are
            # atomic, so this is thread-safe without a lock, and a Packer is
            # several times cheaper to reuse than msgpack.packb is to call.
            try:
                packer = packers.pop()
            except IndexError:
                packer = msgpack.Packer(default=default, use_bin_type=True, strict_types=True)
            try:
                return packer.pack(value)
            except EncodeError:
                packer.reset()
                raise
            except (TypeError, ValueError, OverflowError) as exc:
                packer.reset()
                raise EncodeError(f"cannot encode value: {exc}") from None
            finally:
                packers.append(packer)

        return pack

    def _exception_fields(self, exc: BaseException, pack: Callable[[Any], bytes]) -> list:
        remote_tb = getattr(exc, "remote_traceback", None)
        if isinstance(exc, RemoteError):
            type_name = exc.remote_type
            args: list = [exc.remote_message]
        else:
            type_name = qualified_name(type(exc))
            args = list(exc.args)
            try:
                pack(args)
            except EncodeError:
                args = [a if _encodes(pack, a) else repr(a) for a in args]
        if remote_tb is None:
            remote_tb = "".join(traceback.format_exception(exc)) if exc.__traceback__ else ""
        message = exc.remote_message if isinstance(exc, RemoteError) else str(exc)
        return [type_name, args, message, remote_tb]

    # -- decoding -------------------------------------------------------

    def decoder(self, import_ref: ImportRef | None = None) -> Callable[[Any], Any]:
        """A function ``bytes -> value`` that raises only :class:`ProtocolError`."""

        def unpack(data: Any) -> Any:
            return msgpack.unpackb(
                data, ext_hook=ext_hook, raw=False, strict_map_key=False, use_list=True
            )

        def ext_hook(code: int, data: bytes) -> Any:
            decode = decoders.get(code)
            if decode is None:
                raise ProtocolError(f"unknown extension type {code}")
            return decode(data)

        def decode_ref(data: bytes) -> Any:
            fields = unpack(data)
            if not (isinstance(fields, list) and len(fields) == 4):
                raise ProtocolError("malformed object reference")
            orb_id, object_id, endpoints, interface = fields
            if not (
                isinstance(orb_id, bytes)
                and isinstance(object_id, str)
                and isinstance(endpoints, list)
                and all(isinstance(e, str) for e in endpoints)
                and isinstance(interface, str)
            ):
                raise ProtocolError("malformed object reference")
            if import_ref is None:
                return WireRef(orb_id, object_id, tuple(endpoints), interface)
            return import_ref(orb_id, object_id, tuple(endpoints), interface)

        def decode_value(data: bytes) -> Any:
            name, fields = unpack(data)
            value_type = self._values_by_name.get(name)
            if value_type is None:
                raise ProtocolError(
                    f"value type {name!r} is not registered on this side "
                    "(register it with codec.register on both sides)"
                )
            if not isinstance(fields, dict):
                raise ProtocolError(f"malformed fields for value type {name!r}")
            return value_type.from_fields(fields)

        decoders: dict[int, Callable[[bytes], Any]] = {
            EXT.REF: decode_ref,
            EXT.TUPLE: lambda d: tuple(_list(unpack(d))),
            EXT.SET: lambda d: set(_list(unpack(d))),
            EXT.FROZENSET: lambda d: frozenset(_list(unpack(d))),
            EXT.DATETIME: lambda d: datetime.datetime.fromisoformat(d.decode()),
            EXT.DATE: lambda d: datetime.date.fromisoformat(d.decode()),
            EXT.TIME: lambda d: datetime.time.fromisoformat(d.decode()),
            EXT.TIMEDELTA: lambda d: datetime.timedelta(*_ints(unpack(d), 3)),
            EXT.DECIMAL: lambda d: decimal.Decimal(d.decode()),
            EXT.UUID: lambda d: uuid.UUID(bytes=d),
            EXT.COMPLEX: lambda d: complex(*_COMPLEX.unpack(d)),
            EXT.VALUE: decode_value,
            EXT.EXCEPTION: lambda d: self._rebuild_exception(unpack(d)),
        }

        def decode(data: Any) -> Any:
            try:
                return unpack(data)
            except ProtocolError:
                raise
            except Exception as exc:  # any malformed input becomes a ProtocolError
                raise ProtocolError(f"undecodable data: {type(exc).__name__}: {exc}") from None

        return decode

    def _rebuild_exception(self, fields: Any) -> BaseException:
        if not (isinstance(fields, list) and len(fields) == 4):
            raise ProtocolError("malformed exception")
        type_name, args, message, remote_tb = fields
        if not (
            isinstance(type_name, str)
            and isinstance(args, list)
            and isinstance(message, str)
            and isinstance(remote_tb, str)
        ):
            raise ProtocolError("malformed exception")
        cls = self._exceptions.get(type_name)
        if cls is None and "." not in type_name:
            candidate = getattr(builtins, type_name, None)
            if isinstance(candidate, type) and issubclass(candidate, Exception):
                cls = candidate
        exc: BaseException
        try:
            exc = cls(*args) if cls is not None else RemoteError(type_name, message, remote_tb)
        except Exception:
            exc = RemoteError(type_name, message, remote_tb)
        exc.remote_traceback = remote_tb  # type: ignore[attr-defined]
        if remote_tb:
            exc.__cause__ = RemoteTraceback(remote_tb)
        return exc


def _list(value: Any) -> list:
    if not isinstance(value, list):
        raise ProtocolError("malformed collection")
    return value


def _ints(value: Any, count: int) -> list[int]:
    if not (
        isinstance(value, list) and len(value) == count and all(type(v) is int for v in value)
    ):
        raise ProtocolError("malformed integers")
    return value


def _encodes(pack: Callable[[Any], bytes], value: Any) -> bool:
    try:
        pack(value)
    except EncodeError:
        return False
    return True


def _cannot_encode_message(cls: type) -> str:
    name = f"{cls.__module__}.{cls.__qualname__}"
    return (
        f"cannot send a {name} object: it is neither plain data, a registered value type, "
        f"nor exposed. To pass it by reference, decorate {cls.__qualname__} with @orb.expose; "
        f"to pass it by value, make it an attrs class or dataclass and register it with "
        f"broker.codec.register({cls.__qualname__})"
    )
