"""What is remotely callable: ``@orb.expose``, ``@orb.oneway`` and the member table.

Exposure is opt-in. ``@orb.expose`` on a class exposes its public methods
and properties; on a single method (or property getter) it exposes just
that one. Names starting with ``_`` are never callable, except the dunders
in :data:`ALLOWED_DUNDERS`, which make proxies feel local.

Each decorator attaches one record (``__orb_exposure__``); dispatch reads
the member table that :func:`members_of` derives from them.
"""

from __future__ import annotations

import enum
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, overload

import attrs

T = TypeVar("T")

#: Dunders a proxy forwards to the remote object (when the class defines them).
ALLOWED_DUNDERS = frozenset(
    {
        "__len__",
        "__iter__",
        "__getitem__",
        "__setitem__",
        "__delitem__",
        "__contains__",
        "__bool__",
        "__str__",
        "__enter__",
        "__exit__",
    }
)


class Instance(str, enum.Enum):
    """Which servant instance serves a call when a class is exported."""

    SINGLE = "single"  #: one shared instance for every caller
    PER_CONNECTION = "per_connection"  #: one instance per client connection
    PER_CALL = "per_call"  #: a fresh instance for every call


@attrs.frozen
class Exposure:
    """Attached to an exposed class, method or property getter."""

    oneway: bool = False
    instance: Instance = Instance.SINGLE


@attrs.frozen
class Member:
    """One exposed member of a class."""

    name: str
    is_property: bool = False
    oneway: bool = False
    writable: bool = False
    #: ``async def`` (or an async generator): calling it only makes the
    #: object that the broker's event loop then runs.
    is_async: bool = False


def _check_name(name: str) -> None:
    if name.startswith("_") and name not in ALLOWED_DUNDERS:
        raise TypeError(
            f"cannot expose {name!r}: names starting with '_' are never remotely callable "
            f"(allowed dunders: {', '.join(sorted(ALLOWED_DUNDERS))})"
        )


@overload
def expose(target: T) -> T: ...
@overload
def expose(*, instance: Instance | str = Instance.SINGLE) -> Callable[[T], T]: ...


def expose(target: Any = None, *, instance: Instance | str = Instance.SINGLE) -> Any:
    """Make a class, method or property remotely callable.

    On a class, every public method and property is exposed, plus the
    allowed dunders it defines; ``instance`` says which instance serves a
    call when the class itself is exported (``"single"``,
    ``"per_connection"`` or ``"per_call"``). On a method or property, only
    that member is exposed.
    """
    policy = Instance(instance)

    def decorate(obj: Any) -> Any:
        if isinstance(obj, type):
            obj.__orb_exposure__ = Exposure(instance=policy)
            return obj
        if isinstance(obj, property):
            func = obj.fget
            if func is None:
                raise TypeError("cannot expose a property without a getter")
            _check_name(func.__name__)
            func.__orb_exposure__ = Exposure()
            return obj
        func = _function_of(obj)
        _check_name(func.__name__)
        func.__orb_exposure__ = Exposure(oneway=getattr(func, "__orb_exposure__", Exposure()).oneway)
        return obj

    return decorate if target is None else decorate(target)


def oneway(func: T) -> T:
    """Mark a method as one-way: the caller does not wait and gets ``None``.

    A one-way method is exposed; its result and exceptions are discarded
    (exceptions are logged on the server).
    """
    inner = _function_of(func)
    _check_name(inner.__name__)
    inner.__orb_exposure__ = Exposure(oneway=True)
    return func


def _function_of(obj: Any) -> Callable:
    if isinstance(obj, (staticmethod, classmethod)):
        return obj.__func__
    if callable(obj) and hasattr(obj, "__name__"):
        return obj
    raise TypeError(f"orb.expose applies to classes, methods and properties, not {obj!r}")


def class_exposure(cls: type) -> Exposure | None:
    """The record of an exposed class (inherited by subclasses), or None."""
    exposure = getattr(cls, "__orb_exposure__", None)
    return exposure if isinstance(exposure, Exposure) else None


def members_of(cls: type) -> dict[str, Member]:
    """The exposed members of ``cls``, by name (empty when nothing is exposed)."""
    whole_class = class_exposure(cls) is not None
    members: dict[str, Member] = {}
    for name in dir(cls):
        if name.startswith("_") and name not in ALLOWED_DUNDERS:
            continue
        try:
            static = inspect.getattr_static(cls, name)
        except AttributeError:
            continue
        if isinstance(static, property):
            marked = static.fget is not None and hasattr(static.fget, "__orb_exposure__")
            if (whole_class and not name.startswith("_")) or marked:
                members[name] = Member(name, is_property=True, writable=static.fset is not None)
            continue
        func = static.__func__ if isinstance(static, (staticmethod, classmethod)) else static
        if not callable(func):
            continue
        exposure = getattr(func, "__orb_exposure__", None)
        if name in ALLOWED_DUNDERS and exposure is None:
            if not whole_class or not _defined_below_object(cls, name):
                continue
        elif exposure is None and not whole_class:
            continue
        is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
        members[name] = Member(name, oneway=bool(exposure and exposure.oneway), is_async=is_async)
    return members


def _defined_below_object(cls: type, name: str) -> bool:
    return any(name in vars(klass) for klass in cls.__mro__ if klass is not object)


def is_exposed_instance(obj: Any) -> bool:
    """True when ``obj`` is an instance of a class with anything exposed."""
    cls = type(obj)
    if isinstance(obj, type):
        return False
    return class_exposure(cls) is not None or bool(members_of(cls))
