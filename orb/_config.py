"""Broker configuration: frozen records given to ``orb.ORB``, no globals.

Every default is documented here and in docs/PROTOCOL.md ("Limits").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._wire import DEFAULT_MAX_FRAME_SIZE


def _positive(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be positive, not {value!r}")


@attrs.frozen(kw_only=True)
class Limits:
    """Bounds that protect a broker from its peers.

    * ``max_frame_size``: largest frame accepted, in bytes (64 MiB).
    * ``max_pending``: calls in flight per connection and direction (256);
      further callers wait, further incoming calls are refused. A call
      whose result is streamed stops counting here once the stream starts.
    * ``max_streams``: streamed results this broker produces at once per
      connection (1024); a call whose result would open one more is
      answered with ``orb.CommunicationError`` and its iterator is closed.
      A stream counts from its first answer until it ends or fails, or
      until the consumer's close or cancel arrives. A waiting stream holds
      no thread, only its generator and at most one unsent batch (64
      items; bytes and str go out at about 64 KiB), so the default is four
      times ``max_pending``: room for many subscriptions on one connection,
      while one peer still cannot keep unbounded generators alive. A
      local bound, not announced in the Hello.
    * ``handshake_timeout``: seconds a new connection may take, in total,
      to finish its TLS handshake (if any) and say Hello (10).
    * ``connect_timeout``: seconds to wait for a TCP/Unix connect (10).
    * ``idle_timeout``: seconds an incoming connection may stay silent
      while no call is in flight and no stream is open on it, before it is
      closed; also bounds how long a send to a peer that stopped reading
      may block (300; None: never).
    * ``max_connections``: incoming connections open at once, in total
      (1024); more are closed as soon as they are accepted.
    * ``max_connections_per_address``: incoming connections open at once
      from one peer IP address (64); Unix sockets are not counted.
    * ``max_collection_len``: elements of one decoded list, tuple, set or
      map (1 Mi, 1048576).

    docs/SECURITY.md ("Limits") explains each and the ones that are fixed.
    """

    max_frame_size: int = attrs.field(default=DEFAULT_MAX_FRAME_SIZE, validator=_positive)
    max_pending: int = attrs.field(default=256, validator=_positive)
    max_streams: int = attrs.field(default=1024, validator=_positive)
    handshake_timeout: float = attrs.field(default=10.0, validator=_positive)
    connect_timeout: float = attrs.field(default=10.0, validator=_positive)
    idle_timeout: float | None = attrs.field(default=300.0, validator=_positive)
    max_connections: int = attrs.field(default=1024, validator=_positive)
    max_connections_per_address: int = attrs.field(default=64, validator=_positive)
    max_collection_len: int = attrs.field(default=1 << 20, validator=_positive)


#: Lease granted to clients by default, in seconds. Java RMI uses 10
#: minutes; orb uses one, so the objects of a client that died are freed
#: within about a minute, while renewal stays one small batched call per
#: owner every 30 seconds.
DEFAULT_LEASE = 60.0


@attrs.frozen(kw_only=True)
class DGCConfig:
    """How this broker's distributed GC behaves.

    * ``lease``: seconds of lease granted to clients (60).
    * ``sweep_interval``: seconds between sweeps for expired leases
      (default a quarter of the lease, at most 15).
    * ``transit``: seconds a reference sent in a message keeps its object
      alive while the receiver's dirty call is awaited (default the lease).
    * ``enabled``: False pins every implicitly exported object forever.
    """

    lease: float = attrs.field(default=DEFAULT_LEASE, validator=_positive)
    sweep_interval: float | None = attrs.field(default=None, validator=_positive)
    transit: float | None = attrs.field(default=None, validator=_positive)
    enabled: bool = True

    @property
    def sweep_every(self) -> float:
        return self.sweep_interval or min(self.lease / 4, 15.0)

    @property
    def transit_timeout(self) -> float:
        return self.transit or self.lease


@attrs.frozen(kw_only=True)
class Config:
    """Everything an ``orb.ORB`` can be configured with.

    * ``limits``: see :class:`Limits`.
    * ``max_workers``: threads running servant methods (64).
    * ``timeout``: default seconds a proxy waits for a reply (None: forever).
    * ``insecure``: allow plaintext listening on non-loopback addresses.
    * ``dgc``: distributed GC settings, see :class:`DGCConfig`.
    * ``naming``: where the naming service is (``host:port`` or a URI);
      None means the ``ORB_NAMING`` environment variable, else mDNS.
    * ``tls``: certificates for ``tls://`` endpoints, an
      ``orb.security.TLSConfig`` (None: dial with the system's CAs and no
      client certificate; listening on ``tls://`` then fails).
    * ``authorize``: a policy ``(peer, obj, method) -> bool`` asked before
      every incoming call; False refuses it with ``orb.AccessDenied``
      (see ``orb.security``).
    """

    limits: Limits = attrs.Factory(Limits)
    max_workers: int = attrs.field(default=64, validator=_positive)
    timeout: float | None = attrs.field(default=None, validator=_positive)
    insecure: bool = False
    naming: str | None = None
    dgc: DGCConfig = attrs.Factory(DGCConfig)
    tls: Any = None
    authorize: Callable[[Any, Any, str], bool] | None = None
