"""The broker: ``orb.ORB`` ties listeners, channels, the export table and proxies together.

One broker per process is normal. It listens on any number of endpoints
(or none: a client-only broker), keeps one channel per peer ORB and reuses
it in both directions, exports objects explicitly (pinned) or on the fly
when they are passed by reference, and turns references that arrive into
proxies, or back into the original object when they come home.

The ORB composes parts that each do one job: orb._listening (listeners,
accepting and handshaking incoming connections), orb._registry (the
channel to each peer, dialled when needed), orb._ref_hooks (references
leaving and arriving through the codec), orb._remote_types (interfaces
of remote types), orb._table (exported objects) and orb.gc (leases).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import Any

import attrs

from ._admission import Admission
from ._channel import Channel
from ._config import Config, Limits
from ._dispatch import Dispatcher
from ._errors import CommunicationError, ObjectNotFound
from ._exposure import Instance
from ._inline import InlineWatch
from ._listening import Listening
from ._loop import Loops
from ._pool import WorkerPool
from ._proxy import Proxy, RemoteType
from ._ref_hooks import RefHooks
from ._refs import ObjectRef, new_orb_id
from ._registry import Channels
from ._remote_types import RemoteTypes
from ._table import ObjectTable
from ._wire import CODEC_VERSION, Codec, Hello

log = logging.getLogger("orb.broker")


class ORB:
    """An object request broker.

    ``listen`` is an endpoint string or a list of them (``tcp://host:port``,
    port 0 picks a free port; ``unix:///path``); leave it out for a
    client-only broker that still serves callbacks over the connections it
    opens. ``config`` holds limits and pool sizes (:class:`orb.Config`);
    ``timeout`` (default call timeout), ``insecure`` (allow plaintext on
    non-loopback addresses), ``naming`` (where the naming service is),
    ``tls`` (an ``orb.security.TLSConfig`` for ``tls://`` endpoints) and
    ``authorize`` (a policy ``(peer, obj, method) -> bool``) override it. ``codec`` or ``types`` set the
    value types that travel by value.

    Use it as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        listen: str | Iterable[str] | None = None,
        *,
        config: Config | None = None,
        codec: Codec | None = None,
        types: Iterable[type] = (),
        timeout: float | None = None,
        insecure: bool | None = None,
        limits: Limits | None = None,
        naming: str | None = None,
        lease: float | None = None,
        tls: Any = None,
        authorize: Any = None,
    ) -> None:
        self.config: Config = _configured(
            config, lease, timeout=timeout, insecure=insecure, limits=limits, naming=naming,
            tls=tls, authorize=authorize,
        )
        self.orb_id: bytes = new_orb_id()
        self.codec: Codec = codec if codec is not None else Codec()
        for cls in types:
            self.codec.register(cls)
        self._table = ObjectTable()
        self._dispatcher = Dispatcher(self._table)
        from orb.security._authz import Guard

        self._dispatcher.guard = Guard(self.config.authorize)
        self._tls: Any = None  # orb.security.Contexts, made when first needed
        self._pool = WorkerPool(self.config.max_workers)
        self._inline_watch = InlineWatch()  # incoming calls run by reader threads (orb._inline)
        # The event loop for async servant methods and stream timers (started on first use).
        self._loops = Loops()
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._closing = False
        self._remote_types = RemoteTypes()
        self._name_keeper: Any = None
        from orb.gc import DGC_OBJECT_ID, Collector, LeaseHolder

        dgc = self.config.dgc
        self._collector = Collector(self, dgc)
        self._leases = LeaseHolder(self, dgc.lease, transit=dgc.transit_timeout)
        self._table.add(self._collector, pinned=True, object_id=DGC_OBJECT_ID)
        self._ref_hooks = RefHooks(self)
        # One encoder for all channels: it is thread-safe, and costly to build per connection.
        self._encode = self.codec.encoder(self._ref_hooks.export_ref)
        self._import_ref = self._ref_hooks.import_ref  # called by channels while decoding
        self._channels = Channels(self)
        limits = self.config.limits
        self._admission = Admission(limits.max_connections, limits.max_connections_per_address)
        self._listening = Listening(self, self._admission, self._channels.register)
        try:
            for endpoint in _endpoints(listen):
                self._listening.listen(endpoint)
        except BaseException:
            self.close()
            raise
        self.endpoints: tuple[str, ...] = self._listening.endpoints
        from . import _default

        _default.register(self)
        log.debug("ORB %s started, listening on %s", self.orb_id.hex(), self.endpoints or "nothing")

    def __repr__(self) -> str:
        where = ", ".join(self.endpoints) or "client-only"
        state = "closed" if self.closed else "open"
        return f"<orb.ORB {self.orb_id.hex()[:8]} {where} {state}>"

    def __enter__(self) -> ORB:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # -- exporting --------------------------------------------------------

    def export(
        self,
        obj: Any,
        name: str | None = None,
        *,
        object_id: str | None = None,
        instance: Instance | str | None = None,
        metadata: dict[str, Any] | None = None,
        rebind: bool = False,
    ) -> ObjectRef:
        """Export an exposed object (or class) and return its reference.

        The object stays exported (pinned) until :meth:`unexport` or
        :meth:`close`. Exporting a class serves calls with instances made
        by its instance policy: ``instance`` overrides the one given to
        ``@orb.expose`` (``"single"``, ``"per_connection"``, ``"per_call"``).
        ``object_id`` fixes the id instead of a random one (for well-known
        objects). ``name`` binds the reference in the naming service, with
        ``metadata``, and keeps renewing that binding's lease until the
        object is unexported or this broker closes.
        """
        self._check_open()
        if object_id is not None:
            _check_object_id(object_id)
        if name is not None and not self.endpoints:
            raise ValueError(
                f"cannot bind {name!r}: a client-only ORB has no endpoint others could reach; "
                "give it a listen= endpoint"
            )
        entry = self._table.add(obj, pinned=True, object_id=object_id, policy=instance, name=name)
        if name is not None:
            try:
                self._names().bind(name, obj, metadata, replace=rebind)
            except BaseException:
                self._table.remove(entry.object_id)
                raise
        return self._ref(entry.object_id, entry.type_name)

    def _names(self) -> Any:
        with self._lock:
            if self._name_keeper is None:
                from orb.naming import NameKeeper

                self._name_keeper = NameKeeper(self, self.config.naming)
            return self._name_keeper

    def unexport(self, target: Any) -> None:
        """Stop serving an object, given the object, its reference, proxy or id."""
        if isinstance(target, Proxy):
            target = target._orb_ref
        if isinstance(target, ObjectRef):
            object_id = target.object_id
        elif isinstance(target, str):
            object_id = target
        else:
            entry = self._table.find(target)
            if entry is None:
                raise ObjectNotFound(f"{type(target).__qualname__} object is not exported here")
            object_id = entry.object_id
        entry = self._table.remove(object_id, reason="was unexported")
        self._collector.forget(object_id)
        if entry.name is not None and self._name_keeper is not None:
            self._name_keeper.unbind_target(entry.target)

    def ref(self, obj: Any) -> ObjectRef:
        """The reference of an object, exporting (and pinning) it if it is not exported yet.

        Use it to hand out a URI (``str(broker.ref(obj))``) for an object
        that should stay reachable until it is unexported.
        """
        if isinstance(obj, Proxy):
            return obj._orb_ref
        entry = self._table.find(obj) or self._table.add(obj, pinned=True)
        return self._ref(entry.object_id, entry.type_name)

    def pin(self, obj: Any) -> None:
        """Never collect ``obj`` (exporting it if needed): switch the DGC off for it."""
        self._collector.pin(obj)  # under the collector's lock, so a sweep cannot race it

    def _adopt(self, proxies: list[Proxy]) -> None:
        """Claim DGC leases on proxies that just arrived, before user code sees them."""
        self._leases.adopt(proxies)

    def _ref(self, object_id: str, interface: str) -> ObjectRef:
        return ObjectRef(
            object_id=object_id, orb_id=self.orb_id, endpoints=self.endpoints, interface=interface
        )

    # -- proxies ----------------------------------------------------------

    def proxy(self, target: str | ObjectRef | Proxy, *, timeout: float | None = None) -> Proxy:
        """A proxy for a URI, reference or proxy, carried by this broker."""
        if isinstance(target, Proxy):
            target = target._orb_ref
        ref = ObjectRef.from_uri(target) if isinstance(target, str) else target
        if not isinstance(ref, ObjectRef):
            raise TypeError(f"expected an object URI, ObjectRef or proxy, not {type(target).__name__}")
        return Proxy(ref, self, self.config.timeout if timeout is None else timeout)

    def _call(self, proxy: Proxy, method: str, args: list, kwargs: dict, timeout: float | None) -> Any:
        channel = self._channel_of(proxy)
        return channel.call(proxy._orb_ref.object_id, method, args, kwargs, timeout)

    def _oneway(self, proxy: Proxy, method: str, args: list, kwargs: dict) -> None:
        self._channel_of(proxy).oneway(proxy._orb_ref.object_id, method, args, kwargs)

    def _channel_of(self, proxy: Proxy) -> Channel:
        channel = proxy._orb_channel
        if channel is None or channel.closed:
            channel = self._channels.for_ref(proxy._orb_ref)
            object.__setattr__(proxy, "_orb_channel", channel)
        return channel

    def _remote_type_of(self, proxy: Proxy) -> RemoteType:
        return self._remote_types.of(proxy)

    def _known_remote_type(self, proxy: Proxy) -> RemoteType | None:
        return self._remote_types.known(proxy)

    def _learn_remote_type(self, proxy: Proxy, data: Any) -> RemoteType:
        return self._remote_types.learn(proxy, data)

    # -- glue for channels and listeners ------------------------------------

    def _hello(self) -> Hello:
        return Hello(
            codec_version=CODEC_VERSION,
            orb_id=self.orb_id,
            endpoints=getattr(self, "endpoints", ()),
            limits={"max_pending": self.config.limits.max_pending},
        )

    def _tls_contexts(self) -> Any:
        with self._lock:
            if self._tls is None:
                from orb.security import Contexts

                self._tls = Contexts(self.config.tls)
            return self._tls

    # -- running and stopping ---------------------------------------------

    def serve_forever(self) -> None:
        """Block until :meth:`close` is called (from another thread or a servant) or Ctrl-C."""
        try:
            self._closed.wait()
        except KeyboardInterrupt:
            log.info("interrupted; shutting down")
        finally:
            self.close()

    def close(self) -> None:
        """Stop listening, close every connection and stop the worker threads."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            keeper, self._name_keeper = self._name_keeper, None
        if keeper is not None:
            keeper.close()  # unbind names while the connections are still up
        self._leases.close()  # clean leases while the connections are still up
        self._collector.close()
        with self._lock:
            self._closed.set()
            channels = list(self._channels)
            incoming = self._listening.incoming()
        self._listening.close()
        for channel in channels:
            channel.close("broker shutting down")
        for transport in incoming.values():
            transport.close()
        # One grace period in all for servants still running, in the worker
        # pool or on reader threads (which run short calls themselves).
        grace = time.monotonic() + 5.0
        self._pool.shutdown(5.0)
        self._inline_watch.close()
        self._loops.close()
        current = threading.current_thread()
        readers = {c._reader for c in channels if c._reader is not None} | self._channels.readers()
        for thread in [*self._listening.threads, *incoming, *readers]:
            if thread is not current:
                thread.join(max(0.0, grace - time.monotonic()))
        from . import _default

        _default.unregister(self)
        log.debug("ORB %s closed", self.orb_id.hex())

    shutdown = close

    def stats(self) -> dict[str, Any]:
        """Objects, connections, workers and DGC state of this broker, as a plain dict.

        ``dgc`` holds the owner side (lease length, holders per object,
        pending transits, dirty/renew/clean/collected counts) and, under
        ``leases``, the client side (leases held per owner ORB).
        """
        entries = self._table.entries()
        pinned = sum(1 for e in entries if e.pinned)
        channels = list(self._channels)
        return {
            "orb_id": self.orb_id.hex(),
            "endpoints": list(self.endpoints),
            "objects": {"total": len(entries), "pinned": pinned, "implicit": len(entries) - pinned},
            "connections": [
                {
                    "peer": c.peer.address if c.peer else c.transport.peer_address,
                    "orb_id": c.peer.orb_id.hex() if c.peer else None,
                    "direction": "outgoing" if c.outgoing else "incoming",
                }
                for c in channels
            ],
            "workers": self._pool.size,
            "dgc": {**self._collector.stats(), "leases": self._leases.stats()},
        }

    def _check_open(self) -> None:
        if self.closed:
            raise CommunicationError("this ORB is closed")


def _configured(config: Config | None, lease: float | None, **overrides: Any) -> Config:
    """``config`` (or the defaults) with the arguments given to ``orb.ORB`` that are not None."""
    config = config or Config()
    changes = {name: value for name, value in overrides.items() if value is not None}
    if lease is not None:
        changes["dgc"] = attrs.evolve(config.dgc, lease=lease)
    return attrs.evolve(config, **changes)


def _endpoints(listen: str | Iterable[str] | None) -> list[str]:
    if listen is None:
        return []
    if isinstance(listen, str):
        return [listen]
    return list(listen)


def _check_object_id(object_id: str) -> None:
    if not isinstance(object_id, str) or not object_id or len(object_id) > 128:
        raise ValueError("an object id is a non-empty string of at most 128 characters")
    if "/" in object_id or not object_id.isprintable() or " " in object_id:
        raise ValueError(f"object id {object_id!r} may not contain '/', spaces or control characters")


ORB.__module__ = "orb"
