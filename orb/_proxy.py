"""Proxies: local stand-ins for remote objects.

A proxy is a reference plus the broker that carries its calls. Attribute
access is answered from the remote interface, fetched once per remote type
and cached by the broker: methods come back as bound methods (so ``help()``
shows the remote signature and docstring), properties are read and written
remotely, anything else is an AttributeError raised locally. A short,
explicit list of dunders is forwarded (see ``ALLOWED_DUNDERS``); every call
goes through :meth:`Proxy._orb_call`.
"""

from __future__ import annotations

import contextlib
import contextvars
import types
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from ._errors import OrbError
from ._interface import Interface, Method, signature_of
from ._refs import ObjectRef

if TYPE_CHECKING:
    from ._broker import ORB
    from ._channel import Channel

_call_timeout: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "orb_call_timeout", default=None
)


@contextlib.contextmanager
def call_timeout(seconds: float) -> Iterator[None]:
    """Calls made inside this block (on this thread or task) time out after ``seconds``.

    Overrides the proxy's own timeout; raises ``orb.TimeoutError`` on expiry.
    """
    if seconds <= 0:
        raise ValueError("a call timeout must be positive")
    token = _call_timeout.set(seconds)
    try:
        yield
    finally:
        _call_timeout.reset(token)


class Proxy:
    """A local stand-in for a remote object; see :func:`orb.proxy`."""

    _orb_ref: ObjectRef
    _orb_broker: ORB
    _orb_timeout: float | None
    _orb_channel: Channel | None
    _orb_type: RemoteType | None

    def __init__(self, ref: ObjectRef, broker: ORB, timeout: float | None = None) -> None:
        object.__setattr__(self, "_orb_ref", ref)
        object.__setattr__(self, "_orb_broker", broker)
        object.__setattr__(self, "_orb_timeout", timeout)
        object.__setattr__(self, "_orb_channel", None)
        object.__setattr__(self, "_orb_type", None)

    # -- calls ------------------------------------------------------------

    def _orb_call(self, method: str, args: tuple | list, kwargs: dict) -> Any:
        timeout = _call_timeout.get()
        if timeout is None:
            timeout = self._orb_timeout
        try:
            return self._orb_broker._call(self, method, list(args), kwargs, timeout)
        except Exception as exc:
            # Raise from here: the caller's traceback shows the call, not
            # orb's internal frames (the remote one is chained as the cause).
            raise exc.with_traceback(None)  # noqa: B904

    def _orb_oneway(self, method: str, args: tuple | list, kwargs: dict) -> None:
        self._orb_broker._oneway(self, method, list(args), kwargs)

    def _orb_remote_type(self) -> RemoteType:
        remote_type = self._orb_type
        if remote_type is None:
            remote_type = self._orb_broker._remote_type_of(self)
            object.__setattr__(self, "_orb_type", remote_type)
        return remote_type

    def _orb_interface(self) -> Interface:
        return self._orb_remote_type().interface

    # -- attributes -------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        remote_type = self._orb_remote_type()
        function = remote_type.functions.get(name)
        if function is not None:
            return types.MethodType(function, self)
        iface = remote_type.interface
        if iface.property(name) is not None:
            return self._orb_call("__orb_getattr__", (name,), {})
        raise AttributeError(f"remote {iface.type_name} has no exposed member {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            raise AttributeError(f"cannot set {name!r} on a proxy")
        prop = self._orb_interface().property(name)
        if prop is None:
            raise AttributeError(
                f"remote {self._orb_interface().type_name} has no exposed property {name!r}"
            )
        self._orb_call("__orb_setattr__", (name, value), {})

    def __dir__(self) -> list[str]:
        try:
            return self._orb_interface().names
        except OrbError:
            return []

    # -- forwarded dunders ------------------------------------------------

    def _orb_has(self, name: str) -> bool:
        return self._orb_interface().method(name) is not None

    def _orb_forward(self, name: str, args: tuple, refusal: str) -> Any:
        # A protocol the remote class lacks fails as it would locally (a
        # TypeError), so list(), len() and ``in`` behave as on the object.
        if not self._orb_has(name):
            raise TypeError(refusal.format(type=self._orb_interface().type_name))
        return self._orb_call(name, args, {})

    def __len__(self) -> int:
        return self._orb_forward("__len__", (), "object of type {type!r} has no len()")

    def __iter__(self) -> Iterator[Any]:
        return iter(self._orb_forward("__iter__", (), "{type!r} object is not iterable"))

    def __getitem__(self, key: Any) -> Any:
        return self._orb_forward("__getitem__", (key,), "{type!r} object is not subscriptable")

    def __setitem__(self, key: Any, value: Any) -> None:
        self._orb_forward(
            "__setitem__", (key, value), "{type!r} object does not support item assignment"
        )

    def __delitem__(self, key: Any) -> None:
        self._orb_forward("__delitem__", (key,), "{type!r} object does not support item deletion")

    def __contains__(self, item: Any) -> bool:
        if not self._orb_has("__contains__") and self._orb_has("__iter__"):
            return any(x is item or x == item for x in self)
        return self._orb_forward("__contains__", (item,), "argument of type {type!r} is not iterable")

    def __bool__(self) -> bool:
        if self._orb_has("__bool__"):
            return self._orb_call("__bool__", (), {})
        if self._orb_has("__len__"):
            return self._orb_call("__len__", (), {}) > 0
        return True

    def __str__(self) -> str:
        if self._orb_has("__str__"):
            return self._orb_call("__str__", (), {})
        return repr(self)

    def __enter__(self) -> Any:
        if self._orb_has("__enter__"):
            return self._orb_call("__enter__", (), {})
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> Any:
        if self._orb_has("__exit__"):
            return self._orb_call("__exit__", (exc,) if exc is not None else (), {})
        return None

    # -- identity ---------------------------------------------------------

    def __repr__(self) -> str:
        ref = self._orb_ref
        kind = ref.interface or "remote object"
        return f"<orb.Proxy {kind} at {ref}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Proxy):
            return NotImplemented
        return _identity(self._orb_ref) == _identity(other._orb_ref)

    def __hash__(self) -> int:
        return hash(_identity(self._orb_ref))

    def __reduce__(self) -> Any:
        raise TypeError(
            "an orb proxy cannot be pickled; pass it as an argument or result of an orb call, "
            "or share str(orb.ref(proxy)) and rebuild it with orb.proxy(uri)"
        )


def _identity(ref: ObjectRef) -> tuple:
    return (ref.orb_id or ref.endpoints, ref.object_id)


def ref_of(proxy: Proxy) -> ObjectRef:
    """The reference a proxy stands for."""
    return proxy._orb_ref


class RemoteType:
    """A remote interface and the functions that call its methods.

    Made once per remote type and shared by its proxies. The functions take
    the proxy as first argument and are bound per access with
    ``types.MethodType``, so proxies hold no reference cycles.
    """

    __slots__ = ("interface", "functions")

    def __init__(self, interface: Interface) -> None:
        self.interface = interface
        self.functions: dict[str, Callable[..., Any]] = {
            m.name: _remote_function(interface, m)
            for m in interface.methods
            if not m.name.startswith("_")
        }


def _remote_function(iface: Interface, method: Method) -> Callable[..., Any]:
    name = method.name
    if method.oneway:

        def remote(self: Proxy, *args: Any, **kwargs: Any) -> Any:
            return self._orb_oneway(name, args, kwargs)  # an awaitable for orb.aio proxies

    else:

        def remote(self: Proxy, *args: Any, **kwargs: Any) -> Any:
            return self._orb_call(name, args, kwargs)

    remote.__name__ = name
    remote.__qualname__ = f"{iface.type_name.rpartition('.')[2]}.{name}"
    remote.__module__ = iface.type_name.rpartition(".")[0] or None
    remote.__doc__ = method.doc or None
    remote.__signature__ = signature_of(  # type: ignore[attr-defined]
        method.parameters, method.returns, self_name="self"
    )
    return remote


Proxy.__module__ = "orb"
