"""The call context: who is calling, seen from inside a servant method."""

from __future__ import annotations

import contextvars
from typing import Any

import attrs


@attrs.frozen(kw_only=True)
class Peer:
    """The other side of a connection.

    ``address`` is its network address (``host:port``, or the socket path
    for Unix sockets), ``orb_id`` its ORB's 128-bit id and ``endpoints`` the
    endpoints it listens on (empty for a client-only ORB). ``identity`` is
    its certificate identity when the connection uses TLS with a client
    certificate, otherwise None.
    """

    address: str
    orb_id: bytes
    endpoints: tuple[str, ...] = ()
    identity: Any = None


@attrs.frozen(kw_only=True)
class CallContext:
    """What ``orb.current()`` returns while a servant method runs."""

    peer: Peer
    object_id: str
    method: str
    broker: Any


_current: contextvars.ContextVar[CallContext | None] = contextvars.ContextVar(
    "orb_call_context", default=None
)


def current() -> CallContext:
    """The context of the remote call being served by this thread or task.

    Raises RuntimeError when called outside a servant method invoked
    through orb.
    """
    context = _current.get()
    if context is None:
        raise RuntimeError("orb.current() is only available inside a remotely invoked method")
    return context


def set_current(context: CallContext | None) -> contextvars.Token:
    """Make ``context`` current; the token restores the previous one."""
    return _current.set(context)


def reset_current(token: contextvars.Token) -> None:
    _current.reset(token)
