"""The sans-I/O protocol connection: bytes in, events out; messages in, bytes out.

A :class:`Connection` knows framing, the handshake and message layout, and
nothing about sockets, threads or clocks. A driver feeds it received bytes
with :meth:`Connection.receive_data` (``b""`` means end of stream), pulls
events with :meth:`Connection.next_event`, and writes whatever
:meth:`Connection.send` returns.

States, and what moves between them::

    AWAIT_HELLO --peer's Hello--> OPEN --Goodbye or EOF--> CLOSED
         any state --invalid input--> ERROR (every later call raises)

Both sides send their Hello first (:meth:`Connection.start`); any other
message before the peer's Hello is a protocol error. Until the peer's Hello
has arrived, and after the connection closed or failed, this side may send
only a Goodbye (so a failing side can still say why it hangs up).
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Callable
from typing import Any

import attrs

from .._errors import LocalProtocolError, ProtocolError
from ._codec import CODEC_VERSION
from ._messages import PROTOCOL_VERSION, Call, Goodbye, Hello, Kind, Message, from_wire, to_wire

_CALL = int(Kind.CALL)

#: Every frame starts with its payload length as a 4-byte big-endian integer.
HEADER = struct.Struct(">I")

#: Default largest frame payload accepted, in bytes (64 MiB).
DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024

#: The largest frame size the 4-byte header can express.
MAX_FRAME_SIZE_LIMIT = 2**32 - 1

# Frames up to this size are copied out of the receive buffer before
# decoding (cheaper than a memoryview for small frames); larger ones are
# decoded in place.
_COPY_BELOW = 64 * 1024

# Limits announced in a Hello that must be positive when present, with
# their largest allowed value.
_LIMIT_RANGES = {"max_frame_size": MAX_FRAME_SIZE_LIMIT, "max_pending": 2**64 - 1}


class State(enum.Enum):
    AWAIT_HELLO = "await-hello"
    OPEN = "open"
    CLOSED = "closed"
    ERROR = "error"


class _NeedData:
    def __repr__(self) -> str:
        return "NEED_DATA"


#: Returned by next_event() when more bytes are needed.
NEED_DATA = _NeedData()


@attrs.frozen
class ConnectionClosed:
    """The peer closed its side of the stream (or said Goodbye before it)."""

    reason: str = ""


class Connection:
    """One orb protocol connection, without I/O.

    ``encode`` and ``decode`` turn msgpack arrays into bytes and back (see
    :meth:`orb._wire.Codec.encoder`); ``max_frame_size`` bounds what this
    side accepts (1 to 2**32-1 bytes) and is announced in its Hello.

    :meth:`send` may be called from several threads at once (it only
    encodes); :meth:`receive_data` and :meth:`next_event` belong to one
    reader at a time.
    """

    def __init__(
        self,
        *,
        hello: Hello,
        encode: Callable[[Any], bytes],
        decode: Callable[[Any], Any],
        max_frame_size: int = DEFAULT_MAX_FRAME_SIZE,
    ) -> None:
        if type(max_frame_size) is not int or not 1 <= max_frame_size <= MAX_FRAME_SIZE_LIMIT:
            raise ValueError(
                f"max_frame_size must be an int from 1 to {MAX_FRAME_SIZE_LIMIT}, "
                f"not {max_frame_size!r}"
            )
        self.local = attrs.evolve(
            hello, limits={**hello.limits, "max_frame_size": max_frame_size}
        )
        self.peer: Hello | None = None
        self.state = State.AWAIT_HELLO
        self.max_frame_size = max_frame_size
        self._encode = encode
        self._decode = decode
        self._buffer = bytearray()
        # A large frame read in place (receive_buffer), header included, and how
        # much of it has arrived; while it is set, _buffer is empty.
        self._inplace: bytearray | None = None
        self._inplace_filled = 0
        self._eof = False
        self._started = False
        self._error: ProtocolError | None = None
        self._peer_max_frame_size = DEFAULT_MAX_FRAME_SIZE

    @property
    def hello_sent(self) -> bool:
        """Whether :meth:`start` gave out this side's Hello already."""
        return self._started

    @property
    def peer_max_frame_size(self) -> int:
        """The largest frame the peer accepts (the default until its Hello arrives)."""
        return self._peer_max_frame_size

    # -- outgoing -------------------------------------------------------

    def start(self) -> list[bytes]:
        """The bytes of this side's Hello; must be sent before anything else."""
        if self._started:
            raise LocalProtocolError("the Hello was already sent")
        self._started = True
        return self._frame(to_wire(self.local), limit=self.max_frame_size)

    def send(self, message: Message) -> list[bytes]:
        """The bytes that carry ``message``: a header and a payload buffer.

        Raises :class:`orb.EncodeError` when a value in the message cannot
        travel, and :class:`LocalProtocolError` when the message is not
        allowed now or is larger than the peer accepts.
        """
        if self.state is not State.OPEN or not self._started or type(message) is Hello:
            self._check_send(message)
        return self._frame(to_wire(message), limit=self._peer_max_frame_size)

    def send_call(
        self, request_id: int, object_id: str, method: str, args: list, kwargs: dict
    ) -> list[bytes]:
        """The bytes of ``send(Call(...))`` with these fields, without making the record.

        The same frame and errors; it spares a blocking caller's hot path
        a record it would only take apart again.
        """
        if self.state is not State.OPEN or not self._started:
            return self.send(Call(request_id=request_id, object_id=object_id, method=method,
                                  args=args, kwargs=kwargs))
        return self._frame([_CALL, request_id, object_id, method, args, kwargs],
                           limit=self._peer_max_frame_size)

    def _check_send(self, message: Message) -> None:
        if not self._started:
            raise LocalProtocolError("start() must send the Hello first")
        if isinstance(message, Hello):
            raise LocalProtocolError("the Hello is sent once, by start()")
        if isinstance(message, Goodbye):
            return
        if self.state is State.AWAIT_HELLO:
            raise LocalProtocolError(
                f"cannot send {type(message).__name__} before the peer's Hello arrived"
            )
        if self.state is not State.OPEN:
            raise LocalProtocolError(f"cannot send on a {self.state.value} connection")

    def _frame(self, array: list, *, limit: int) -> list[bytes]:
        payload = self._encode(array)
        if len(payload) > limit:
            raise LocalProtocolError(
                f"message of {len(payload)} bytes exceeds the peer's frame limit "
                f"of {limit} bytes"
            )
        return [HEADER.pack(len(payload)), payload]

    # -- incoming -------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer; ``b""`` means the stream ended."""
        if data:
            if self._eof:
                raise LocalProtocolError("data received after end of stream")
            frame = self._inplace
            if frame is not None:  # the rest of a frame being received in place
                filled = self._inplace_filled
                count = min(len(data), len(frame) - filled)
                frame[filled : filled + count] = memoryview(data)[:count]
                self._inplace_filled = filled + count
                if count == len(data):
                    return
                data = memoryview(data)[count:]
            self._buffer += data
        else:
            self._eof = True

    def bytes_needed(self) -> int:
        """How many more bytes complete the frame being received; 0 between frames.

        A driver may size its reads by it, and read a large frame in place
        with :meth:`receive_buffer`.
        """
        if self._inplace is not None:
            return len(self._inplace) - self._inplace_filled
        buffer = self._buffer
        if len(buffer) < HEADER.size:
            return 0
        (size,) = HEADER.unpack_from(buffer)
        return max(HEADER.size + size - len(buffer), 0)

    def frame_ready(self) -> bool:
        """Whether a whole (small) frame has arrived that next_event() has not returned yet."""
        buffer = self._buffer
        if len(buffer) < HEADER.size:
            return False
        (size,) = HEADER.unpack_from(buffer)
        return len(buffer) >= HEADER.size + size

    def receive_buffer(self) -> memoryview:
        """A writable view for the rest of the frame being received, where it will stay.

        Read into it (at most its length), then report the count with
        :meth:`received_into`: the frame is decoded from this memory, with
        no copy on the way. Only while :meth:`bytes_needed` is positive, and
        after :meth:`next_event` returned NEED_DATA (so its length is checked).
        """
        frame = self._inplace
        if frame is None:
            buffer = self._buffer
            if len(buffer) < HEADER.size:
                raise LocalProtocolError("no frame is being received")
            (size,) = HEADER.unpack_from(buffer)
            total = HEADER.size + size
            if not 0 < size <= self.max_frame_size or len(buffer) >= total:
                raise LocalProtocolError("no frame is being received")
            frame = self._inplace = bytearray(total)
            frame[: len(buffer)] = buffer
            self._inplace_filled = len(buffer)
            buffer.clear()
        return memoryview(frame)[self._inplace_filled :]

    def received_into(self, count: int) -> None:
        """``count`` bytes were read into the view of :meth:`receive_buffer`; 0: the stream ended."""
        if count:
            self._inplace_filled += count
        else:
            self._eof = True

    def next_event(self) -> Message | ConnectionClosed | _NeedData:
        """The next complete event, or :data:`NEED_DATA`.

        Raises :class:`ProtocolError` when the peer broke the protocol; the
        connection is then in the ERROR state and must be closed.
        """
        if self._error is not None:
            raise self._error
        if self.state is State.CLOSED:
            return ConnectionClosed()
        if not self._buffer and self._inplace is None and not self._eof:  # between frames
            return NEED_DATA
        try:
            array = self._next_frame()
            if array is None:
                if self._eof:
                    self.state = State.CLOSED
                    return ConnectionClosed()
                return NEED_DATA
            return self._handle(from_wire(array))
        except ProtocolError as exc:
            self.state = State.ERROR
            self._error = exc
            raise

    def _next_frame(self) -> Any:
        """The decoded array of the next complete frame, or None."""
        frame = self._inplace
        if frame is not None:
            if self._inplace_filled < len(frame):
                if self._eof:
                    raise ProtocolError("stream ended inside a frame")
                return None
            self._inplace = None
            view = memoryview(frame)[HEADER.size :]
            try:
                return self._decode(view)
            finally:
                view.release()
        buffer = self._buffer
        if len(buffer) < HEADER.size:
            if self._eof and buffer:
                raise ProtocolError("stream ended inside a frame header")
            return None
        (size,) = HEADER.unpack_from(buffer)
        if size == 0:
            raise ProtocolError("empty frame")
        if size > self.max_frame_size:
            raise ProtocolError(
                f"frame of {size} bytes exceeds the limit of {self.max_frame_size} bytes"
            )
        end = HEADER.size + size
        if len(buffer) < end:
            if self._eof:
                raise ProtocolError("stream ended inside a frame")
            return None
        if size < _COPY_BELOW:
            array = self._decode(buffer[HEADER.size : end])
        else:
            # Decode large frames straight from the buffer, without a copy.
            view = memoryview(buffer)[HEADER.size : end]
            try:
                array = self._decode(view)
            finally:
                view.release()
        del buffer[:end]
        return array

    def _handle(self, message: Message) -> Message | ConnectionClosed:
        if self.state is State.OPEN:
            cls = type(message)
            if cls is Goodbye:
                self.state = State.CLOSED
                return ConnectionClosed(message.reason)  # type: ignore[union-attr]
            if cls is Hello:
                raise ProtocolError("a second Hello on an open connection")
            return message
        if not isinstance(message, Hello):
            raise ProtocolError(f"expected Hello first, got {type(message).__name__}")
        self._check_hello(message)
        self.peer = message
        self._peer_max_frame_size = message.limits.get("max_frame_size", DEFAULT_MAX_FRAME_SIZE)
        self.state = State.OPEN
        return message

    @staticmethod
    def _check_hello(hello: Hello) -> None:
        if hello.protocol_version != PROTOCOL_VERSION:
            raise ProtocolError(
                f"peer speaks protocol version {hello.protocol_version}, "
                f"this side speaks {PROTOCOL_VERSION}"
            )
        if hello.codec_version != CODEC_VERSION:
            raise ProtocolError(
                f"peer uses codec version {hello.codec_version}, "
                f"this side uses {CODEC_VERSION}"
            )
        for name, highest in _LIMIT_RANGES.items():
            value = hello.limits.get(name)
            if value is not None and not 1 <= value <= highest:
                raise ProtocolError(f"peer announced an invalid {name} of {value}")
