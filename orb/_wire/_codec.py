"""The value codec: msgpack plus orb's extension types.

Plain msgpack types travel as themselves. Everything else that may travel
by value has an extension type, listed in ``EXT`` below and specified in
docs/PROTOCOL.md. Exposed objects and proxies travel as object references;
what a reference means is decided by the layer above through two hooks:

* ``export_ref(obj)`` is asked for any value the codec does not know; it
  returns ``(orb_id, object_id, endpoints, interface, flags)`` or ``None``.
* ``import_ref(orb_id, object_id, endpoints, interface, flags)`` turns a
  decoded reference into whatever the caller wants (a proxy, a local
  object). Flag bit 0 (``REF_COLLECTABLE``) says the object is collected
  by the distributed GC, so its receiver must claim a lease on it.

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
    flags: int = 0


#: Flag bit of a reference: the object is collected by the distributed GC.
REF_COLLECTABLE = 1

ExportRef = Callable[[Any], "tuple[bytes, str, Sequence[str], str, int] | None"]
ImportRef = Callable[[bytes, str, tuple, str, int], Any]

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


#: How deep extension values may nest (a tuple inside a tuple is depth 2).
#: Each level of decoding recurses through msgpack's C unpacker, which uses
#: tens of kilobytes of C stack per level; the bound keeps a hostile frame
#: from overflowing a thread's stack. The encoder refuses deeper values.
MAX_EXT_DEPTH = 32

Pack = Callable[[Any], bytes]

# Initial buffer of a msgpack Packer, and how many idle packers an encoder
# keeps per nesting level (see Codec._packer_level).
_PACKER_BUFFER = 64 * 1024
_FREE_PACKERS = 4

#: Exact type -> function(value, pack for nested payloads) -> ExtType.
_ENCODERS: dict[type, Callable[[Any, Pack], msgpack.ExtType]] = {
    tuple: lambda v, pack: msgpack.ExtType(EXT.TUPLE, pack(list(v))),
    set: lambda v, pack: msgpack.ExtType(EXT.SET, pack(list(v))),
    frozenset: lambda v, pack: msgpack.ExtType(EXT.FROZENSET, pack(list(v))),
    datetime.datetime: lambda v, pack: msgpack.ExtType(EXT.DATETIME, v.isoformat().encode()),
    datetime.date: lambda v, pack: msgpack.ExtType(EXT.DATE, v.isoformat().encode()),
    datetime.time: lambda v, pack: msgpack.ExtType(EXT.TIME, v.isoformat().encode()),
    datetime.timedelta: lambda v, pack: msgpack.ExtType(
        EXT.TIMEDELTA, pack([v.days, v.seconds, v.microseconds])
    ),
    decimal.Decimal: lambda v, pack: msgpack.ExtType(EXT.DECIMAL, str(v).encode()),
    uuid.UUID: lambda v, pack: msgpack.ExtType(EXT.UUID, v.bytes),
    complex: lambda v, pack: msgpack.ExtType(EXT.COMPLEX, _COMPLEX.pack(v.real, v.imag)),
}

#: Extension code -> function(payload, unpack for nested payloads) -> value,
#: for the codes that need nothing from the Codec instance.
_DECODERS: dict[int, Callable[[bytes, Callable[[bytes], Any]], Any]] = {
    EXT.TUPLE: lambda d, unpack: tuple(_list(unpack(d))),
    EXT.SET: lambda d, unpack: set(_list(unpack(d))),
    EXT.FROZENSET: lambda d, unpack: frozenset(_list(unpack(d))),
    EXT.DATETIME: lambda d, unpack: datetime.datetime.fromisoformat(d.decode()),
    EXT.DATE: lambda d, unpack: datetime.date.fromisoformat(d.decode()),
    EXT.TIME: lambda d, unpack: datetime.time.fromisoformat(d.decode()),
    EXT.TIMEDELTA: lambda d, unpack: datetime.timedelta(*_ints(unpack(d), 3)),
    EXT.DECIMAL: lambda d, unpack: decimal.Decimal(d.decode()),
    EXT.UUID: lambda d, unpack: uuid.UUID(bytes=d),
    EXT.COMPLEX: lambda d, unpack: complex(*_COMPLEX.unpack(d)),
}


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
        """A function ``value -> bytes``; safe to call from several threads.

        Raises :class:`orb.EncodeError` for values that cannot travel,
        including extension values nested deeper than ``MAX_EXT_DEPTH``.
        """
        pack: Callable[[Any], bytes] = _too_deep_to_encode
        for _ in range(MAX_EXT_DEPTH + 1):
            pack = self._packer_level(pack, export_ref)
        return pack

    def _packer_level(
        self, inner: Callable[[Any], bytes], export_ref: ExportRef | None
    ) -> Callable[[Any], bytes]:
        """A ``pack`` function whose extension payloads are packed by ``inner``."""
        values_by_type = self._values_by_type
        exception_fields = self._exception_fields
        packers: list[msgpack.Packer] = []

        def default(obj: Any) -> Any:
            cls = type(obj)
            encode = _ENCODERS.get(cls)
            if encode is not None:
                return encode(obj, inner)
            value_type = values_by_type.get(cls)
            if value_type is not None:
                return msgpack.ExtType(
                    EXT.VALUE, inner([value_type.name, value_type.to_fields(obj)])
                )
            if export_ref is not None:
                ref = export_ref(obj)
                if ref is not None:
                    orb_id, object_id, endpoints, interface, flags = ref
                    return msgpack.ExtType(
                        EXT.REF, inner([orb_id, object_id, list(endpoints), interface, flags])
                    )
            if isinstance(obj, BaseException):
                return msgpack.ExtType(EXT.EXCEPTION, inner(exception_fields(obj, inner)))
            if isinstance(obj, tuple):  # namedtuples travel as plain tuples
                return msgpack.ExtType(EXT.TUPLE, inner(list(obj)))
            for base, convert in _BASE_CONVERSIONS:
                if isinstance(obj, base):
                    return convert(obj)
            raise EncodeError(_cannot_encode_message(cls))

        def pack(value: Any) -> bytes:
            # Packers are reused through a free list: list.pop/append are
            # atomic, so this is thread-safe without a lock, and a Packer is
            # several times cheaper to reuse than msgpack.packb is to call.
            # A Packer keeps the buffer it grew to, so the list keeps a few
            # packers, and none that packed a large value.
            try:
                packer = packers.pop()
            except IndexError:
                packer = msgpack.Packer(
                    default=default, use_bin_type=True, strict_types=True, buf_size=_PACKER_BUFFER
                )
            try:
                data = packer.pack(value)
            except EncodeError:
                packer.reset()
                if len(packers) < _FREE_PACKERS:
                    packers.append(packer)
                raise
            except (TypeError, ValueError, OverflowError, RecursionError) as exc:
                packer.reset()
                if len(packers) < _FREE_PACKERS:
                    packers.append(packer)
                raise EncodeError(f"cannot encode value: {exc}") from None
            if len(data) <= _PACKER_BUFFER and len(packers) < _FREE_PACKERS:
                packers.append(packer)
            return data

        return pack

    def _exception_fields(self, exc: BaseException, pack: Callable[[Any], bytes]) -> list:
        remote_tb = getattr(exc, "remote_traceback", None)
        if isinstance(exc, RemoteError):
            type_name = exc.remote_type
            args: list = [exc.remote_message]
            message = exc.remote_message
        else:
            type_name = qualified_name(type(exc))
            args = list(exc.args)
            if isinstance(exc, OSError) and exc.filename is not None and len(args) == 2:
                # OSError keeps file names out of args; OSError(errno, strerror,
                # filename, winerror, filename2) rebuilds them.
                args += [exc.filename, None, exc.filename2]
            try:
                pack(args)
            except EncodeError:
                args = [a if _encodes(pack, a) else _safe_repr(a) for a in args]
            message = _safe_str(exc)
        if not isinstance(remote_tb, str):
            remote_tb = "".join(traceback.format_exception(exc)) if exc.__traceback__ else ""
        return [type_name, args, message, remote_tb]

    # -- decoding -------------------------------------------------------

    def decoder(
        self, import_ref: ImportRef | None = None, *, max_collection_len: int | None = None
    ) -> Callable[[Any], Any]:
        """A function ``bytes -> value`` that raises only :class:`ProtocolError`.

        It accepts ``bytes``, ``bytearray`` or a ``memoryview`` holding
        exactly one msgpack value. ``max_collection_len`` bounds the
        elements of each array and map (None: only the input's size does).
        """

        def decode_ref(data: bytes, unpack: Callable[[bytes], Any]) -> Any:
            fields = unpack(data)
            if not (type(fields) is list and len(fields) in (4, 5)):
                raise ProtocolError("malformed object reference")
            orb_id, object_id, endpoints, interface = fields[:4]
            flags = fields[4] if len(fields) == 5 else 0
            if not (
                type(flags) is int
                and 0 <= flags < 2**32
                and type(orb_id) is bytes
                and len(orb_id) in (0, 16)
                and type(object_id) is str
                and type(endpoints) is list
                and all(type(e) is str for e in endpoints)
                and type(interface) is str
            ):
                raise ProtocolError("malformed object reference")
            if import_ref is None:
                return WireRef(orb_id, object_id, tuple(endpoints), interface, flags)
            return import_ref(orb_id, object_id, tuple(endpoints), interface, flags)

        def decode_value(data: bytes, unpack: Callable[[bytes], Any]) -> Any:
            fields = unpack(data)
            if not (type(fields) is list and len(fields) == 2 and type(fields[0]) is str):
                raise ProtocolError("malformed value type")
            name, values = fields
            value_type = self._values_by_name.get(name)
            if value_type is None:
                raise ProtocolError(
                    f"value type {name!r} is not registered on this side "
                    "(register it with codec.register on both sides)"
                )
            if type(values) is not dict:
                raise ProtocolError(f"malformed fields for value type {name!r}")
            return value_type.from_fields(values)

        decoders: dict[int, Callable[[bytes, Callable[[bytes], Any]], Any]] = {
            **_DECODERS,
            EXT.REF: decode_ref,
            EXT.VALUE: decode_value,
            EXT.EXCEPTION: lambda d, unpack: self._rebuild_exception(unpack(d)),
        }
        unpack: Callable[[Any], Any] = _too_deep_to_decode
        max_len = -1 if max_collection_len is None else max_collection_len
        for _ in range(MAX_EXT_DEPTH + 1):
            unpack = _unpacker_level(decoders, unpack, max_len)

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


def _unpacker_level(
    decoders: dict[int, Callable[[bytes, Callable[[bytes], Any]], Any]],
    inner: Callable[[bytes], Any],
    max_len: int = -1,
) -> Callable[[Any], Any]:
    """An ``unpack`` function whose extension payloads are unpacked by ``inner``."""

    def ext_hook(code: int, data: bytes) -> Any:
        decode = decoders.get(code)
        if decode is None:
            raise ProtocolError(f"unknown extension type {code}")
        return decode(data, inner)

    def unpack(data: Any) -> Any:
        # msgpack's own timestamp extension (-1) never reaches ext_hook;
        # timestamp=3 makes it an aware UTC datetime rather than a msgpack type.
        # max_len bounds each array and map (-1: msgpack's default, the input size).
        return msgpack.unpackb(
            data, ext_hook=ext_hook, raw=False, strict_map_key=False, use_list=True, timestamp=3,
            max_array_len=max_len, max_map_len=max_len,
        )

    return unpack


def _too_deep_to_encode(value: Any) -> bytes:
    raise EncodeError(f"cannot encode value: extension values nest deeper than {MAX_EXT_DEPTH}")


def _too_deep_to_decode(data: Any) -> Any:
    raise ProtocolError(f"extension values nest deeper than {MAX_EXT_DEPTH}")


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__} object>"


def _safe_repr(value: Any) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unprintable {type(value).__name__} object>"


def _list(value: Any) -> list:
    if type(value) is not list:
        raise ProtocolError("malformed collection")
    return value


def _ints(value: Any, count: int) -> list[int]:
    if not (
        type(value) is list and len(value) == count and all(type(v) is int for v in value)
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
