"""The open channels of a broker: one per peer ORB, reused in both directions.

A reference is reached over the channel already open to its ORB, whoever
opened it, or else over a channel dialled to one of its endpoints (one
dial at a time per endpoint). A channel leaves the registry when it
closes, and another open channel to the same ORB takes its place.

ORB ids are only claims: a reference that names only ``tls://`` endpoints
is reached through a connection dialled to one of them (its server
certificate verified for that host), never one another peer opened.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ._channel import Channel
from ._errors import CommunicationError, TimeoutError
from ._refs import Endpoint, ObjectRef
from ._transport import connect

if TYPE_CHECKING:
    from ._broker import ORB


class Channels:
    """The channels of one broker, by peer ORB id and by dialled endpoint.

    Shares the broker's lock and closed state. Iterating gives the open
    channels as they are at that moment.
    """

    def __init__(self, broker: ORB) -> None:
        self._broker = broker
        self._lock = broker._lock
        self._open: set[Channel] = set()
        #: The channel that reaches each peer ORB, by its id.
        self.by_orb: dict[bytes, Channel] = {}
        self._by_endpoint: dict[str, Channel] = {}
        self._dial_locks: dict[str, threading.Lock] = {}
        self._readers: weakref.WeakSet[threading.Thread] = weakref.WeakSet()

    def __iter__(self) -> Iterator[Channel]:
        with self._lock:
            return iter(list(self._open))

    def readers(self) -> set[threading.Thread]:
        """The reader threads of the channels registered so far that may still be running."""
        return set(self._readers)

    def for_ref(self, ref: ObjectRef) -> Channel:
        """The channel that reaches the object ``ref`` names, dialling one if needed."""
        self._broker._check_open()
        if ref.orb_id and not tls_only(ref):
            channel = self.by_orb.get(ref.orb_id)
            if channel is not None and not channel.closed:
                return channel
        failures: list[CommunicationError] = []
        for endpoint in ref.endpoints:
            try:
                return self._dial(endpoint)
            except CommunicationError as exc:
                failures.append(exc)
        if not ref.endpoints:
            raise CommunicationError(
                f"cannot reach object {ref.object_id}: its ORB listens nowhere and has no "
                "open connection to this one (it may have disconnected)"
            )
        if len(failures) == 1:
            raise failures[0]
        # Timed out everywhere: still a TimeoutError, so callers can tell.
        timed_out = all(isinstance(f, TimeoutError) for f in failures)
        raise (TimeoutError if timed_out else CommunicationError)("; ".join(map(str, failures)))

    def _dial(self, endpoint_text: str) -> Channel:
        with self._lock:
            lock = self._dial_locks.setdefault(endpoint_text, threading.Lock())
        with lock:
            channel = self._by_endpoint.get(endpoint_text)
            if channel is not None and not channel.closed:
                return channel
            endpoint = Endpoint.parse(endpoint_text)
            limits = self._broker.config.limits
            if endpoint.scheme == "tls":
                from orb.security._transport import connect as connect_tls

                transport = connect_tls(
                    endpoint, self._broker._tls_contexts(), connect_timeout=limits.connect_timeout,
                    handshake_timeout=limits.handshake_timeout,
                )
            else:
                transport = connect(endpoint, limits.connect_timeout)
            channel = Channel(self._broker, transport, outgoing=True)
            channel.open(limits.handshake_timeout)
            self.register(channel)
            with self._lock:
                self._by_endpoint[endpoint_text] = channel
            return channel

    def register(self, channel: Channel) -> None:
        """Add a channel whose handshake is done (closing it if the broker is closed)."""
        assert channel.peer is not None
        with self._lock:
            if self._broker.closed:
                channel.close("broker shutting down")
                return
            self._open.add(channel)
            if channel._reader is not None:
                # Joined at close even when its channel closed (and left
                # the registry) just before: it may still be finishing.
                self._readers.add(channel._reader)
            current = self.by_orb.get(channel.peer.orb_id)
            if current is None or current.closed:
                self.by_orb[channel.peer.orb_id] = channel
        channel.on_close(self._unregister)

    def _unregister(self, channel: Channel) -> None:
        with self._lock:
            self._open.discard(channel)
            if channel.peer and self.by_orb.get(channel.peer.orb_id) is channel:
                del self.by_orb[channel.peer.orb_id]
                for other in self._open:  # another channel to that ORB takes over
                    if other.peer and other.peer.orb_id == channel.peer.orb_id:
                        self.by_orb[other.peer.orb_id] = other
                        break
            for endpoint, known in list(self._by_endpoint.items()):
                if known is channel:
                    del self._by_endpoint[endpoint]


def tls_only(ref: ObjectRef) -> bool:
    """True when every endpoint of ``ref`` is tls://: it may only be reached over TLS."""
    return bool(ref.endpoints) and all(e.startswith("tls://") for e in ref.endpoints)
