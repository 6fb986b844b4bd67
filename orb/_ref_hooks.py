"""The codec's hooks for references leaving and arriving at a broker.

Leaving, a proxy travels as the reference it stands for, and an exposed
object as a reference to it, exported on the fly if it is not exported
yet (the DGC holds it in transit until its receiver claims a lease).
Arriving, a reference becomes a proxy (the same proxy each time for the
same remote object), or the original object again when it comes home.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ._exposure import Instance
from ._proxy import Proxy
from ._refs import ObjectRef
from ._registry import tls_only
from ._wire import REF_COLLECTABLE

if TYPE_CHECKING:
    from ._broker import ORB
    from ._channel import Channel


class RefHooks:
    """Turns a broker's objects and proxies into reference fields, and reference fields into proxies."""

    def __init__(self, broker: ORB) -> None:
        self._broker = broker
        self._table = broker._table
        self._collector = broker._collector
        self._leases = broker._leases
        self._exposable: dict[type, bool] = {}
        #: One proxy per remote object for references that arrive, so a
        #: reference received twice is the same proxy object both times.
        self.proxies: weakref.WeakValueDictionary[tuple[bytes, str], Proxy] = (
            weakref.WeakValueDictionary()
        )

    def export_ref(self, obj: Any) -> tuple[bytes, str, tuple[str, ...], str, int] | None:
        """Codec hook: the reference fields of a proxy or an exposed object.

        A local object that is not exported yet is exported implicitly and
        held in transit by the DGC until its receiver claims a lease; a
        forwarded collectable proxy is kept alive for the same reason. An
        ``ObjectRef`` travels as the reference it describes (arriving as a
        proxy), without a lease.
        """
        if isinstance(obj, ObjectRef):
            return (obj.orb_id, obj.object_id, obj.endpoints, obj.interface, 0)
        if isinstance(obj, Proxy):
            ref = obj._orb_ref
            peer = obj._orb_channel.peer if obj._orb_channel is not None else None
            if not ref.orb_id and peer is not None:
                # Made from a URI: send what the connection learned about its ORB,
                # so receivers recognise it (and its home ORB gets the original back).
                extra = tuple(e for e in peer.endpoints if e not in ref.endpoints)
                return (peer.orb_id, ref.object_id, ref.endpoints + extra, ref.interface, 0)
            if ref.collectable:
                self._leases.in_transit(obj)
                return (ref.orb_id, ref.object_id, ref.endpoints, ref.interface, REF_COLLECTABLE)
            return (ref.orb_id, ref.object_id, ref.endpoints, ref.interface, 0)
        cls = type(obj)
        exposable = self._exposable.get(cls)
        if exposable is None:
            exposable = self._exposable[cls] = bool(self._table.members(cls)) and not isinstance(
                obj, type
            )
        if not exposable:
            return None
        entry = self._table.find(obj)
        if entry is None or not entry.pinned:
            entry = self._collector.export_for_transit(obj)
        flags = 0 if entry.pinned else REF_COLLECTABLE
        broker = self._broker
        return (broker.orb_id, entry.object_id, broker.endpoints, entry.type_name, flags)

    def import_ref(
        self,
        channel: Channel,
        orb_id: bytes,
        object_id: str,
        endpoints: tuple,
        interface: str,
        flags: int,
    ) -> Any:
        """Codec hook: a reference that arrived becomes a proxy, or the object itself at home.

        New proxies of collectable objects are queued on the channel; the
        thread that hands them to user code claims their leases first.
        """
        broker = self._broker
        if orb_id == broker.orb_id or (
            not orb_id and endpoints and endpoints[0] in broker.endpoints
        ):
            entry = self._table.lookup(object_id)
            if entry is not None and (not entry.is_class or entry.policy is Instance.SINGLE):
                return entry.instance_for(None)
        key = (orb_id, object_id)
        proxy = self.proxies.get(key) if orb_id else None
        if proxy is None:
            ref = ObjectRef(
                object_id=object_id, orb_id=orb_id, endpoints=endpoints, interface=interface,
                collectable=bool(flags & REF_COLLECTABLE) and bool(orb_id),
            )
            proxy = Proxy(ref, broker, broker.config.timeout)
            if orb_id:
                proxy = self.proxies.setdefault(key, proxy)
        if proxy._orb_ref.collectable and not proxy.__dict__.get("_orb_leased"):
            channel.decoded_refs.append(proxy)
        if (
            proxy._orb_channel is None and channel.peer is not None
            and channel.peer.orb_id == orb_id and not tls_only(proxy._orb_ref)
        ):
            object.__setattr__(proxy, "_orb_channel", channel)
        return proxy
