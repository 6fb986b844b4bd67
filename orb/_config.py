"""Broker configuration: frozen records given to ``orb.ORB``, no globals.

Every default is documented here and in docs/PROTOCOL.md ("Limits").
"""

from __future__ import annotations

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
      further callers wait, further incoming calls are refused.
    * ``handshake_timeout``: seconds a new connection may take to say
      Hello (10).
    * ``connect_timeout``: seconds to wait for a TCP/Unix connect (10).
    """

    max_frame_size: int = attrs.field(default=DEFAULT_MAX_FRAME_SIZE, validator=_positive)
    max_pending: int = attrs.field(default=256, validator=_positive)
    handshake_timeout: float = attrs.field(default=10.0, validator=_positive)
    connect_timeout: float = attrs.field(default=10.0, validator=_positive)


@attrs.frozen(kw_only=True)
class Config:
    """Everything an ``orb.ORB`` can be configured with.

    * ``limits``: see :class:`Limits`.
    * ``max_workers``: threads running servant methods (64).
    * ``timeout``: default seconds a proxy waits for a reply (None: forever).
    * ``insecure``: allow plaintext listening on non-loopback addresses.
    * ``naming``: where the naming service is (``host:port`` or a URI);
      None means the ``ORB_NAMING`` environment variable, else mDNS.
    """

    limits: Limits = attrs.Factory(Limits)
    max_workers: int = attrs.field(default=64, validator=_positive)
    timeout: float | None = attrs.field(default=None, validator=_positive)
    insecure: bool = False
    naming: str | None = None
