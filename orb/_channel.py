"""The blocking driver of one connection.

A :class:`Channel` moves bytes between a transport and the sans-I/O
:class:`orb._wire.Connection`. A caller encodes and sends its Call on its
own thread and, when nobody else is reading, reads the Reply itself; the
channel's reader thread reads the rest of the time, and runs incoming
Calls itself or hands them to the broker's worker pool, whose worker
sends the Reply. orb._reading says who reads when.

Either side may call the other over the same channel, so a server calls
back into a client-only ORB over the connection the client opened.

The same channel serves callers that do not block: coroutines
(orb._aiochannel) and ``orb.future`` register waiters whose ``release``
completes a future (orb._waiters), and streamed results travel as
STREAM_* messages handled by orb._streams. Calls whose servant is
``async def`` or returns an iterator are answered later, from
orb._deferred, and stay registered here as jobs until done.
"""

from __future__ import annotations

import builtins
import collections
import itertools
import logging
import threading
import weakref
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import _streams
from ._context import CallContext, Peer
from ._deferred import LATER
from ._errors import CommunicationError, LocalProtocolError, OrbError, ProtocolError, TimeoutError
from ._reading import Reading, ThreadWaiter
from ._slots import Slots
from ._transport import Transport
from ._wire import (
    Call,
    Cancel,
    Connection,
    ConnectionClosed,
    Error,
    Goodbye,
    Hello,
    Message,
    Oneway,
    Ping,
    Pong,
    Reply,
)

if TYPE_CHECKING:
    from ._broker import ORB

log = logging.getLogger("orb.channel")

# Receive buffer of a connection; larger frames are read in place (see Channel._receive).
_SMALL_RECV = 16 * 1024

# Buffers (two per frame) that Channel.write(hold=True) keeps back at most.
_HOLD_FRAMES = 128


class _Pending(ThreadWaiter):
    """One call a blocked thread waits for; released when its reply arrives.

    Whoever takes a waiter out of ``Channel._pending`` fills in ``ok``,
    ``value`` and ``refs`` and calls ``lock.release()`` exactly once. Here
    the waiter is its own lock (see orb._reading); the waiters of
    orb._waiters present themselves as the lock too and complete a future.
    """

    __slots__ = ()

    def open_stream(self, channel: Channel, request_id: int) -> Any:
        """The consumer of a streamed result (the call returns it)."""
        return _streams.Stream(channel, request_id)


class Channel:
    """One live connection to a peer ORB, usable from any number of threads."""

    def __init__(self, broker: ORB, transport: Transport, *, outgoing: bool) -> None:
        self.broker = broker
        self.transport = transport
        self.outgoing = outgoing
        limits = broker.config.limits
        self.conn = Connection(
            hello=broker._hello(),
            encode=broker._encode,
            decode=broker.codec.decoder(
                self._import_ref, max_collection_len=limits.max_collection_len
            ),
            max_frame_size=limits.max_frame_size,
        )
        self.peer: Peer | None = None
        self.instances: dict[str, Any] = {}  # per-connection servant instances
        self.closed = False
        self.close_reason = ""
        self._send_lock = threading.Lock()
        self._held: list[bytes] = []  # frames kept back by write(hold=True), under _send_lock
        # Frames other threads left for the one writing now (see write), under _queue_lock.
        self._queue_lock = threading.Lock()
        self._queued: list[bytes] = []
        self._writing = False
        self._pending: dict[int, _Pending] = {}
        self._request_ids = itertools.count(1)
        self._call_slots = Slots(limits.max_pending)
        # Awaited calls waiting for a call slot (orb._aiochannel._QueuedCall).
        self._slot_waiters: collections.deque[Any] = collections.deque()
        # Streams consumed here, by request id; dropped ones vanish (orb._streams).
        self._streams: weakref.WeakValueDictionary[int, Any] = weakref.WeakValueDictionary()
        # Incoming calls still running after their worker returned (orb._deferred).
        self._jobs: dict[int, Any] = {}
        self._max_incoming = limits.max_pending
        self._incoming = 0
        self._incoming_lock = threading.Lock()
        # Streams produced here for the peer (orb._producers): counted apart
        # from calls in flight, under the same lock.
        self._max_producing = limits.max_streams
        self._producing = 0
        # Small messages are read into a small buffer, large frames straight
        # into their place in the connection (see _receive).
        self._recv_buffer = bytearray(_SMALL_RECV)
        # Who reads the connection: callers, the reader thread, a stand-in.
        self._reading = Reading(self)
        self._idle_timeout = limits.idle_timeout
        self._reader: threading.Thread | None = None
        # Proxies made while decoding the current message that need a DGC
        # lease; only the reader thread touches this list.
        self.decoded_refs: list[Any] = []
        self._on_close: list[Callable[[Channel], None]] = []
        # The orb._aiochannel.Outbox this channel was last written through.
        self.last_outbox: Any = None

    def __repr__(self) -> str:
        peer = self.peer.address if self.peer else self.transport.peer_address
        state = "closed" if self.closed else "open"
        return f"<orb Channel {'to' if self.outgoing else 'from'} {peer} {state}>"

    # -- life cycle -----------------------------------------------------

    def open(
        self, handshake_timeout: float, *, start_reader: bool = True, deadline: float | None = None
    ) -> None:
        """Exchange Hellos, then start the reader thread (or let the caller run read_loop).

        The peer's Hello must arrive by ``deadline`` (a ``time.monotonic()``
        value; default ``handshake_timeout`` from now), however slowly its
        bytes trickle in. Raises CommunicationError (or ProtocolError) when
        the peer does not complete the handshake in time; the transport is
        closed then. Incoming connections then read with the idle timeout.
        """
        if deadline is None:
            deadline = time.monotonic() + handshake_timeout
        try:
            self.transport.settimeout(max(deadline - time.monotonic(), 0.001))
            self.send_hello()
            hello = self._read_until_hello(deadline)
            self.transport.settimeout(None if self.outgoing else self._idle_timeout)
        except OrbError as exc:
            if isinstance(exc, ProtocolError) and not isinstance(exc, LocalProtocolError):
                try:  # best effort: tell the peer why (e.g. a version mismatch)
                    self._write(self.conn.send(Goodbye(reason=f"protocol error: {exc}")))
                except (OSError, OrbError):
                    pass
            self.transport.close()
            self.closed = True
            raise
        except OSError as exc:
            self.transport.close()
            self.closed = True
            if isinstance(exc, builtins.TimeoutError):
                raise TimeoutError(
                    f"{self.transport.peer_address} did not complete the handshake in "
                    f"{handshake_timeout:g}s"
                ) from None
            raise CommunicationError(
                f"handshake with {self.transport.peer_address} failed: {exc}"
            ) from None
        peer_limit = hello.limits.get("max_pending")
        if peer_limit is not None and peer_limit < self.broker.config.limits.max_pending:
            # Send no more calls at once than the peer runs at once: the rest
            # wait here for a slot instead of being refused there.
            self._call_slots = Slots(peer_limit)
        self.peer = Peer(
            address=self.transport.peer_address,
            orb_id=hello.orb_id,
            endpoints=hello.endpoints,
            identity=getattr(self.transport, "identity", None),  # set by TLS transports
        )
        if start_reader:
            loop = self.broker._loops.reading_loop() if self.outgoing else None
            if loop is not None and hasattr(self.transport, "recv_into_nowait"):
                self._reading.read_on(loop, self.transport.fileno())
            else:
                self.start_reader_thread()

    def start_reader_thread(self) -> None:
        """Start the thread that reads when no caller does (see orb._reading)."""
        assert self.peer is not None
        if self.outgoing:
            self._reading.step_back_first()
        self._reader = threading.Thread(
            target=self.read_loop, name=f"orb-reader {self.peer.address}", daemon=True
        )
        self._reader.start()

    def send_hello(self) -> None:
        """Send this side's Hello (once); :meth:`open` does it unless it was done before.

        A listener sends it from its accept thread, so the peer's wait for
        it overlaps with starting the connection's thread.
        """
        if not self.conn.hello_sent:
            self._write(self.conn.start())

    def _read_until_hello(self, deadline: float) -> Hello:
        while True:
            event = self.conn.next_event()
            if isinstance(event, Hello):
                return event
            if isinstance(event, ConnectionClosed):
                raise CommunicationError(
                    f"{self.transport.peer_address} closed the connection during the handshake"
                    + (f": {event.reason}" if event.reason else "")
                )
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise builtins.TimeoutError()
            self.transport.settimeout(remaining)
            self._receive()

    def on_close(self, callback: Callable[[Channel], None]) -> None:
        """Call ``callback(channel)`` once when the channel closes."""
        self._on_close.append(callback)

    def close(self, reason: str = "closing", *, say_goodbye: bool = True) -> None:
        """Close the connection; calls in flight fail with CommunicationError."""
        with self._send_lock:
            if self.closed:
                return
            self.closed = True
            self.close_reason = reason
            if say_goodbye:
                try:
                    self.transport.send(self.conn.send(Goodbye(reason=reason)))
                except (OSError, OrbError):
                    pass
        self.transport.close()
        self._reading.wake_background()  # a parked reader thread ends
        self._fail_pending(reason)
        for callback in self._on_close:
            try:
                callback(self)
            except Exception:
                log.exception("error in close callback of %r", self)
        self._on_close.clear()
        self.instances.clear()

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for waiter in pending.values():
            waiter.value = CommunicationError(
                f"connection to {self.transport.peer_address} lost while waiting for the "
                f"reply to {waiter.method!r} ({reason}); the call may or may not have run"
            )
            waiter.lock.release()
        if self._streams or self._jobs:
            _streams.end_all(self, reason)

    # -- outgoing calls -------------------------------------------------

    def call(
        self,
        object_id: str,
        method: str,
        args: list,
        kwargs: dict,
        timeout: float | None,
    ) -> Any:
        """Call ``method`` on the peer's object and wait for the result."""
        # A Semaphore waits forever on timeout=None (-1 would mean "do not wait").
        if not self._call_slots.acquire(timeout=timeout):
            raise TimeoutError(f"no free call slot on {self!r} within {timeout:g}s")
        try:
            request_id = next(self._request_ids)
            waiter = _Pending(method)
            self._pending[request_id] = waiter
            try:
                if self.closed:
                    raise self._closed_error()
                self.write(self.conn.send_call(request_id, object_id, method, args, kwargs),
                           wake_reader=False)
            except BaseException:
                self._pending.pop(request_id, None)
                raise
            try:
                replied = self._reading.wait(waiter, request_id, timeout)
            except BaseException:  # interrupted (Ctrl-C): forget the call, ask the peer to drop it
                if self._pending.pop(request_id, None) is not None:
                    self._send_quietly(Cancel(request_id=request_id))
                raise
            if not replied:  # timed out, and withdrawn from _pending
                self._send_quietly(Cancel(request_id=request_id))
                raise TimeoutError(
                    f"no reply to {method!r} from {self.transport.peer_address} "
                    f"within {timeout:g}s"
                )
        finally:
            if self._slot_waiters:
                self._release_slot()
            else:
                self._call_slots.release()
        if waiter.refs:  # claim leases before user code sees the proxies
            self.broker._adopt(waiter.refs)
        if waiter.ok:
            return waiter.value
        raise waiter.value

    def oneway(self, object_id: str, method: str, args: list, kwargs: dict) -> None:
        """Send a one-way call; returns as soon as it is written."""
        self.send(Oneway(object_id=object_id, method=method, args=args, kwargs=kwargs))

    def _release_slot(self) -> None:
        """Give a call slot back: straight to an awaited call queued for one, else to the pool."""
        if self._slot_waiters:
            try:
                waiter = self._slot_waiters.popleft()
            except IndexError:  # another thread took the last one
                pass
            else:
                waiter.offer()  # it passes the slot on if it gave up waiting
                return
        self._call_slots.release()

    def send(self, message: Message, *, hold: bool = False) -> None:
        """Encode and write one message; raises CommunicationError when closed.

        ``hold``: the frame may wait for the next write (see :meth:`write`).
        """
        if self.closed:
            raise self._closed_error()
        self.write(self.conn.send(message), hold=hold)  # encoding happens outside the lock

    def _closed_error(self) -> CommunicationError:
        return CommunicationError(
            f"connection to {self.transport.peer_address} is closed ({self.close_reason})"
        )

    def write(
        self, buffers: list[bytes], *, wait: bool = True, wake_reader: bool = True,
        hold: bool = False,
    ) -> bool:
        """Write encoded frames; raises CommunicationError when the connection is lost.

        A thread that finds another one writing leaves its frames to it and
        returns at once. With ``wait=False`` it returns False, writing
        nothing, when the connection is held otherwise (an event loop must
        not wait for it).
        ``wake_reader=False`` is for a blocked caller, which reads its reply
        itself; other writers see to it that the reader thread reads (see
        orb._reading). ``hold=True`` lets the frames wait for the next write
        (or :meth:`flush_held`), up to :data:`_HOLD_FRAMES` of them: the
        reader thread answering pipelined calls writes their replies together.
        """
        if not self._send_lock.acquire(False):
            if self._leave_to_writer(buffers):
                if wake_reader:
                    self._reading.after_write()
                return True
            if not wait:
                return False
            self._send_lock.acquire()
        failure: Exception | None = None
        try:
            if self.closed:
                raise self._closed_error()
            held = self._held
            if held or hold:
                held += buffers
                if hold and len(held) < _HOLD_FRAMES:
                    return True
                buffers, self._held = held, []
            if buffers:
                failure = self._write_out(buffers)
        finally:
            self._send_lock.release()
        if failure is None:
            if wake_reader:
                self._reading.after_write()
            return True
        self.close(f"send failed: {failure}", say_goodbye=False)
        raise CommunicationError(
            f"cannot send to {self.transport.peer_address}: {failure}"
        ) from None

    def _leave_to_writer(self, buffers: list[bytes]) -> bool:
        """Queue frames for the thread writing now, if one is (True); it sends them next.

        Threads calling at once do not queue up on the send lock, each
        sleeping and being woken in turn: one writes for all of them.
        """
        with self._queue_lock:
            if not self._writing:
                return False
            if self.closed:
                raise self._closed_error()
            self._queued += buffers
            return True

    def _write_out(self, buffers: list[bytes]) -> Exception | None:
        """Send ``buffers`` and whatever other threads queued meanwhile (holding the send lock).

        Returns the failure, after which the connection must close: the
        stream may end inside a frame, and the frames of the others are lost.
        """
        self._writing = True
        try:
            while True:
                self.transport.send(buffers)
                with self._queue_lock:
                    buffers, self._queued = self._queued, []
                    if not buffers:
                        self._writing = False
                        return None
        except Exception as exc:  # OSError, or a TLS failure
            failure: Exception = exc
        except BaseException:  # interrupted (Ctrl-C): the stream may end inside a frame
            self._drop_queued()
            self.transport.close()  # the reader sees it and closes the channel: calls fail
            raise
        self._drop_queued()
        return failure

    def _drop_queued(self) -> None:
        with self._queue_lock:
            self._writing = False
            self._queued = []  # their callers hear of it as the connection closes

    def flush_held(self) -> None:
        """Write the frames that ``write(hold=True)`` kept back, if any."""
        if self._held:
            try:
                self.write([])
            except CommunicationError:
                pass

    def _send_quietly(self, message: Message) -> None:
        try:
            self.send(message)
        except OrbError:
            pass

    def _write(self, buffers: list[bytes]) -> None:
        with self._send_lock:
            self.transport.send(buffers)

    # -- incoming -------------------------------------------------------

    def _receive(self, nowait: bool = False) -> None:
        """Read once from the transport into the connection.

        ``nowait`` (an event loop reading, see orb._loopreading) raises
        BlockingIOError instead of waiting when nothing has arrived.
        """
        conn = self.conn
        recv_into = self.transport.recv_into_nowait if nowait else self.transport.recv_into
        if conn.bytes_needed() > _SMALL_RECV:  # a large frame: read it in place, in big pieces
            view = conn.receive_buffer()
            try:
                count = recv_into(view)
            finally:
                view.release()
            conn.received_into(count)
            return
        buffer = self._recv_buffer
        count = recv_into(memoryview(buffer))
        if count:
            conn.receive_data(memoryview(buffer)[:count])
        else:
            conn.receive_data(b"")

    def read_loop(self) -> None:
        """The reader thread: read and handle events (taking turns with callers, see
        orb._reading) until the connection closes."""
        self._reading.background()

    def _take_refs(self) -> list[Any]:
        refs = self.decoded_refs
        if refs:
            self.decoded_refs = []
        return refs

    def _on_reply(self, message: Reply) -> None:
        refs = self._take_refs()
        waiter = self._pending.pop(message.request_id, None)
        if waiter is not None:
            waiter.ok = True
            waiter.value = message.value
            waiter.refs = refs
            waiter.lock.release()

    def _on_error(self, message: Error) -> None:
        refs = self._take_refs()
        waiter = self._pending.pop(message.request_id, None)
        if waiter is not None:
            waiter.value = message.exception
            waiter.refs = refs
            waiter.lock.release()
        elif self._streams:  # a producer failed part-way through a stream
            _streams.on_error(self, message.request_id, message.exception)

    def _on_call(self, message: Call | Oneway) -> None:
        refs = self._take_refs()
        if self._admit(message):
            self.broker._pool.submit(self._serve, message, refs)

    def _admit(self, message: Call | Oneway) -> bool:
        """Count an incoming call as in flight; refuse it when too many are."""
        with self._incoming_lock:
            if self._incoming >= self._max_incoming:
                busy = True
            else:
                busy = False
                self._incoming += 1
        if busy:
            if isinstance(message, Call):
                self._send_quietly(Error(request_id=message.request_id, exception=CommunicationError(
                    f"too many calls in flight on this connection (limit {self._max_incoming})"
                )))
            else:  # nobody waits for a one-way call: say here that it was dropped
                log.warning(
                    "dropped one-way call %s() from %s: too many calls in flight (limit %d)",
                    message.method, self.transport.peer_address, self._max_incoming,
                )
            return False
        return True

    def _serve(self, message: Call | Oneway, refs: list[Any], hold: bool = False) -> None:
        """Run an incoming call and send its reply (``hold``: see :meth:`write`)."""
        reply: Any = None
        try:
            if refs:  # claim leases before the servant sees the proxies
                self.broker._adopt(refs)
            context = CallContext(
                peer=self.peer, object_id=message.object_id, method=message.method,
                broker=self.broker,
            )
            reply = self.broker._dispatcher.run(message, self, context)
        finally:
            # Free the slot before replying: the caller may send its next call
            # the moment the reply arrives, and must not find the slot taken.
            # A call answered later keeps its slot until its job is done.
            if reply is not LATER:
                with self._incoming_lock:
                    self._incoming -= 1
        if reply is not None and reply is not LATER:
            self._send_reply(reply, hold)

    def _send_reply(self, reply: Reply | Error, hold: bool = False) -> None:
        try:
            self.send(reply, hold=hold)
        except (LocalProtocolError, TypeError) as exc:  # the result cannot travel
            self._send_quietly(Error(request_id=reply.request_id, exception=exc))
        except CommunicationError:
            log.debug("reply to %s dropped: connection closed", self.transport.peer_address)

    def job_started(
        self, request_id: int | None, job: Any, *, counted: bool = False, stream: bool = False
    ) -> bool:
        """An incoming call goes on after its worker returned (see orb._deferred).

        It stays counted as in flight until :meth:`job_finished` (``counted``:
        it already is, as the call its worker is serving), and
        ``job.cancel()`` is called when the caller cancels it or the
        connection closes; ``job.grant(n)`` receives stream credit.

        A ``stream`` counts among the open streams instead (the caller freed
        its call slot when the stream began), up to ``Limits.max_streams``:
        with that many open it is refused, False, and counted nowhere.
        """
        if stream:
            with self._incoming_lock:
                if counted:
                    self._incoming -= 1
                if self._producing >= self._max_producing:
                    return False
                self._producing += 1
        elif not counted:
            with self._incoming_lock:
                self._incoming += 1
        if request_id is not None:
            self._jobs[request_id] = job
        if self.closed:  # closed meanwhile: end_all may have missed it
            job.cancel()
        return True

    def job_finished(self, request_id: int | None, job: Any, *, stream: bool = False) -> None:
        """The job of :meth:`job_started` is done (called once, with the same ``stream``)."""
        if request_id is not None and self._jobs.get(request_id) is job:
            self._jobs.pop(request_id, None)
        with self._incoming_lock:
            if stream:
                self._producing -= 1
            else:
                self._incoming -= 1

    def _on_cancel(self, message: Cancel) -> None:
        log.debug("peer %s cancelled request %d", self.transport.peer_address, message.request_id)
        job = self._jobs.get(message.request_id)
        if job is not None:  # an async method or a stream: stop it
            job.cancel()

    def _on_ping(self, message: Ping) -> None:
        self._send_quietly(Pong(token=message.token))

    def _on_pong(self, message: Pong) -> None:
        pass

    _handlers: dict[type, Callable[[Channel, Any], None]] = {
        Reply: _on_reply,
        Error: _on_error,
        Call: _on_call,
        Oneway: _on_call,
        Cancel: _on_cancel,
        Ping: _on_ping,
        Pong: _on_pong,
        **_streams.HANDLERS,
    }

    # -- references -----------------------------------------------------

    def _import_ref(
        self, orb_id: bytes, object_id: str, endpoints: tuple, interface: str, flags: int
    ) -> Any:
        return self.broker._import_ref(self, orb_id, object_id, endpoints, interface, flags)
