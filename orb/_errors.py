"""The error tree: every failure orb raises is an ``OrbError``.

Failures of the broker itself have their own branches; an exception raised
by a remote servant arrives as its own type when that type is a builtin or
registered one, otherwise as :class:`RemoteError`.
"""

from __future__ import annotations

import builtins


class OrbError(Exception):
    """Root of every error raised by orb."""


class CommunicationError(OrbError, ConnectionError):
    """A peer could not be reached, or the connection broke during a call.

    A call whose connection broke may or may not have run on the server;
    orb never re-sends it (at-most-once semantics).
    """


class TimeoutError(CommunicationError, builtins.TimeoutError):  # noqa: A001
    """A call or connection attempt did not complete in time."""


class ProtocolError(OrbError):
    """Bytes on the wire broke the orb protocol.

    ``ProtocolError`` itself means the peer sent something invalid; its
    subclass :class:`LocalProtocolError` means this side tried to send
    something the protocol does not allow.
    """


class LocalProtocolError(ProtocolError):
    """This side tried to send something the protocol does not allow."""


class EncodeError(OrbError, TypeError):
    """A value cannot travel: it is neither plain data, a registered value type, nor exposed."""


class ObjectNotFound(OrbError, LookupError):
    """The target object id is not exported (never was, was unexported, or was collected)."""


class NameNotFound(OrbError, LookupError):
    """A name is not bound in the naming service."""


class AlreadyBound(OrbError, KeyError):
    """A name is already bound in the naming service (``rebind`` replaces your own)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class AccessDenied(OrbError, PermissionError):
    """The caller is not allowed to do this."""


class RemoteError(OrbError):
    """A servant raised an exception whose type is not known on this side.

    ``remote_type`` is the qualified name of the remote exception type and
    ``remote_traceback`` the text of the traceback where it was raised.
    """

    def __init__(self, remote_type: str, message: str, remote_traceback: str = "") -> None:
        super().__init__(f"{remote_type}: {message}" if message else remote_type)
        self.remote_type = remote_type
        self.remote_message = message
        self.remote_traceback = remote_traceback


class RemoteTraceback(Exception):
    """The traceback text of a remote exception, chained as its ``__cause__``.

    Chaining makes the remote traceback print above the local one whenever
    the exception is printed, for builtin exception types too.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n\n" + self.text.rstrip()


#: orb's own errors travel by name and are rebuilt as themselves.
BROKER_ERRORS: tuple[type[OrbError], ...] = (
    OrbError,
    CommunicationError,
    TimeoutError,
    ProtocolError,
    LocalProtocolError,
    EncodeError,
    ObjectNotFound,
    NameNotFound,
    AlreadyBound,
    AccessDenied,
)

# Public errors print as orb.Name, the name users import them by.
for _cls in (*BROKER_ERRORS, LocalProtocolError, RemoteError, RemoteTraceback):
    _cls.__module__ = "orb"
del _cls
