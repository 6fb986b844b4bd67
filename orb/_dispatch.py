"""Dispatch: run one incoming call against the export table.

Every call passes the same checks: the object id must be exported, the
method must be an exposed member (names starting with ``_`` never are,
except the allowed dunders), and properties are read and written only
through the reserved methods below. Reserved method names (all start with
``__orb_``) are answered by the broker itself:

=====================  ================================================
``__orb_describe__``   the object's interface description (a map)
``__orb_getattr__``    read an exposed property: ``(name)``
``__orb_setattr__``    write an exposed, writable property: ``(name, value)``
=====================  ================================================

A result that is not a plain value may be answered later: a coroutine
(an ``async def`` method) runs on the broker's event loop, and an iterator
or generator is streamed (orb._deferred, orb._streams).
"""

from __future__ import annotations

import logging
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _deferred
from ._context import CallContext, reset_current, set_current
from ._table import Entry, ObjectTable
from ._wire import Call, Error, Oneway, Reply

if TYPE_CHECKING:
    from ._channel import Channel

log = logging.getLogger("orb.dispatch")

# Results of these types are sent as they are, without asking orb._deferred.
_PLAIN = frozenset({type(None), bool, int, float, str, bytes, list, dict, tuple})


class Dispatcher:
    """Turns Call and Oneway messages into servant invocations."""

    def __init__(self, table: ObjectTable) -> None:
        self.table = table
        # Authorization check (orb.security.Guard), run before the servant
        # is touched; raises orb.AccessDenied.
        self.guard: Callable[[Entry, str], None] | None = None

    def run(self, message: Call | Oneway, channel: Channel | None, context: CallContext) -> Reply | Error | None:
        """Invoke the call; the Reply or Error to send back (None for one-way calls).

        Coroutines and iterators are answered later: orb._deferred serves
        them on ``channel`` and this returns ``orb._deferred.LATER``.
        """
        token = set_current(context)
        try:
            value = self.invoke(message.object_id, message.method, message.args, message.kwargs, channel)
        except BaseException as exc:
            return self.failed(message, exc)
        finally:
            reset_current(token)
        if (
            type(value) not in _PLAIN
            and channel is not None
            and _deferred.needs_driver(value, self.table)
        ):
            if _deferred.start(self, message, channel, context, value, counted=True):
                return _deferred.LATER
            return None
        if isinstance(message, Oneway):
            return None
        return Reply(request_id=message.request_id, value=value)

    def returns_at_once(self, message: Call | Oneway) -> bool:
        """Whether the call only starts work elsewhere (an ``async def`` method).

        Such a call may be run by a connection's reader even while other
        calls are in flight: it returns as soon as its coroutine exists.
        """
        entry = self.table.lookup(message.object_id)
        if entry is None:
            return False
        member = entry.members.get(message.method)
        return member is not None and member.is_async

    def failed(self, message: Call | Oneway, exc: BaseException) -> Error | None:
        """The Error answering a call that raised ``exc`` (one-way calls log it: None)."""
        _strip_internal_frames(exc)
        if isinstance(message, Oneway):
            log.warning(
                "one-way call %s() on %s raised", message.method, message.object_id,
                exc_info=exc,
            )
            return None
        return Error(request_id=message.request_id, exception=exc)

    def invoke(self, object_id: str, method: str, args: list, kwargs: dict, channel: Channel | None) -> Any:
        """Find the servant and member, check exposure, and call it."""
        entry = self.table.get(object_id)
        if self.guard is not None:
            self.guard(entry, method)
        reserved = _RESERVED.get(method)
        if reserved is not None:
            return reserved(self, entry, channel, *args, **kwargs)
        member = entry.members.get(method)
        if member is None:
            raise AttributeError(f"{entry.type_name} has no exposed method {method!r}")
        if member.is_property:
            raise TypeError(f"{method!r} is a property of {entry.type_name}, not a method")
        servant = entry.instance_for(channel)
        special = _SPECIAL_DUNDERS.get(method)
        if special is not None:
            return special(servant, *args, **kwargs)
        return getattr(servant, method)(*args, **kwargs)

    def _describe(self, entry: Entry, channel: Channel | None) -> dict:
        return self.table.interface(entry.cls).to_wire()

    def _getattr(self, entry: Entry, channel: Channel | None, name: str) -> Any:
        self._property(entry, name)
        return getattr(entry.instance_for(channel), name)

    def _setattr(self, entry: Entry, channel: Channel | None, name: str, value: Any) -> None:
        if not self._property(entry, name).writable:
            raise AttributeError(f"property {name!r} of {entry.type_name} is read-only")
        setattr(entry.instance_for(channel), name, value)

    def _property(self, entry: Entry, name: str) -> Any:
        member = entry.members.get(name) if isinstance(name, str) else None
        if member is None or not member.is_property:
            raise AttributeError(f"{entry.type_name} has no exposed property {name!r}")
        return member


def _exit(servant: Any, exc: BaseException | None = None) -> Any:
    # The proxy sends the exception (or None); the servant gets the usual triple.
    if exc is None:
        return servant.__exit__(None, None, None)
    return servant.__exit__(type(exc), exc, None)


def _iter(servant: Any) -> Any:
    # The iterator is streamed to the caller (orb._streams).
    return iter(servant)


_SPECIAL_DUNDERS: dict[str, Callable[..., Any]] = {"__exit__": _exit, "__iter__": _iter}

_RESERVED: dict[str, Callable[..., Any]] = {
    "__orb_describe__": Dispatcher._describe,
    "__orb_getattr__": Dispatcher._getattr,
    "__orb_setattr__": Dispatcher._setattr,
}

_INTERNAL_CODE = {
    Dispatcher.run.__code__,
    Dispatcher.invoke.__code__,
    Dispatcher._getattr.__code__,
    Dispatcher._setattr.__code__,
    _exit.__code__,
    _iter.__code__,
}


def _strip_internal_frames(exc: BaseException) -> None:
    """Drop orb's own frames from the front of the traceback the caller will see."""
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code in _INTERNAL_CODE and tb.tb_next is not None:
        tb = tb.tb_next
    exc.__traceback__ = tb
