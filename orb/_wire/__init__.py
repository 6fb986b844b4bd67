"""orb's sans-I/O wire core: framing, handshake, messages and the value codec.

Nothing here does I/O or touches threads, sockets or clocks; every error it
raises is an :class:`orb.ProtocolError` (or, for values that cannot travel,
:class:`orb.EncodeError`).
"""

from ._codec import CODEC_VERSION, EXT, REF_COLLECTABLE, Codec, WireRef, qualified_name
from ._connection import (
    DEFAULT_MAX_FRAME_SIZE,
    HEADER,
    NEED_DATA,
    Connection,
    ConnectionClosed,
    State,
)
from ._messages import (
    PROTOCOL_VERSION,
    Call,
    Cancel,
    Error,
    Goodbye,
    Hello,
    Kind,
    Message,
    Oneway,
    Ping,
    Pong,
    Reply,
)

__all__ = [
    "CODEC_VERSION",
    "DEFAULT_MAX_FRAME_SIZE",
    "EXT",
    "HEADER",
    "NEED_DATA",
    "PROTOCOL_VERSION",
    "REF_COLLECTABLE",
    "Call",
    "Cancel",
    "Codec",
    "Connection",
    "ConnectionClosed",
    "Error",
    "Goodbye",
    "Hello",
    "Kind",
    "Message",
    "Oneway",
    "Ping",
    "Pong",
    "Reply",
    "State",
    "WireRef",
    "qualified_name",
]
