"""What a broker knows of remote types: their interfaces, fetched once per ORB and type.

A proxy needs its remote object's interface (orb.describe) to answer
attribute access. The description is fetched with ``__orb_describe__``
the first time a type of a given ORB is met, and shared by every proxy
of that type afterwards.
"""

from __future__ import annotations

from typing import Any

from ._errors import CommunicationError
from ._interface import Interface
from ._proxy import Proxy, RemoteType


class RemoteTypes:
    """The remote types one broker has learned, by (ORB id, type name)."""

    def __init__(self) -> None:
        self._types: dict[tuple[bytes, str], RemoteType] = {}

    def of(self, proxy: Proxy) -> RemoteType:
        """The remote type of ``proxy``, fetched from its ORB the first time."""
        remote_type = self.known(proxy)
        if remote_type is None:
            data = proxy._orb_call("__orb_describe__", (), {})  # honours orb.call_timeout
            remote_type = self.learn(proxy, data)
        return remote_type

    def known(self, proxy: Proxy) -> RemoteType | None:
        """The remote type of ``proxy`` if it is known already."""
        ref = proxy._orb_ref
        key = (ref.orb_id, ref.interface)
        return self._types.get(key) if ref.orb_id and ref.interface else None

    def learn(self, proxy: Proxy, data: Any) -> RemoteType:
        """Remember the interface description ``data`` fetched through ``proxy``."""
        ref = proxy._orb_ref
        try:
            interface = Interface.from_wire(data)
        except ValueError as exc:
            raise CommunicationError(f"{ref}: {exc}") from None
        remote_type = RemoteType(interface)
        channel = proxy._orb_channel
        orb_id = channel.peer.orb_id if channel and channel.peer else ref.orb_id
        self._types[(orb_id, interface.type_name)] = remote_type
        return remote_type
