"""The naming service: an ordinary exposed object at the well-known id ``orb.naming``.

Names map to object references with metadata. A binding is held by a lease
that its owner renews (``renew``); a binding whose lease ran out is gone:
it resolves to nothing and anyone may bind the name again. Permanent
bindings have no lease. Only the owner of a live binding may rebind or
unbind it; the owner is the caller's certificate identity when it has one,
else its ORB id.

Expiry is a pure function of the injected ``clock`` (monotonic seconds), so
lease rules are tested without sleeping.
"""

from __future__ import annotations

import builtins
import ipaddress
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

import orb
from orb._proxy import Proxy
from orb._refs import ObjectRef

from ._names import InvalidName, children, matches, validate, validate_context
from ._store import MemoryStore, Record, Store

log = logging.getLogger("orb.naming")

#: The object id the naming service is exported under.
NAMING_OBJECT_ID = "orb.naming"
#: Lease granted when the binder asks for none, in seconds.
DEFAULT_LEASE = 30.0
#: Shortest and longest lease granted, in seconds.
MIN_LEASE, MAX_LEASE = 0.2, 3600.0


@attrs.frozen(kw_only=True)
class _Binding:
    record: Record
    expires_at: float | None  # clock value; None for a permanent binding

    def alive(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at


class NamingService:
    """Hierarchical names -> references, held by leases, kept in a store.

    ``store`` defaults to memory; ``lease`` is the lease granted by default;
    ``clock`` returns monotonic seconds.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        lease: float = DEFAULT_LEASE,
        clock: Callable[[], float] = time.monotonic,
        admins: Iterable[str] = (),
    ) -> None:
        if not MIN_LEASE <= lease <= MAX_LEASE:
            raise ValueError(f"lease must be between {MIN_LEASE} and {MAX_LEASE} seconds")
        self.store: Store = store if store is not None else MemoryStore()
        self.lease = lease
        self.admins = tuple(admins)
        self._clock = clock
        self._lock = threading.Lock()
        self._started = clock()
        now = clock()
        self._bindings: dict[str, _Binding] = {
            record.name: _Binding(
                record=record, expires_at=None if record.lease is None else now + record.lease
            )
            for record in self.store.load()
        }

    # -- remote operations ----------------------------------------------

    @orb.expose
    def bind(
        self,
        name: str,
        ref: Any,
        metadata: dict | None = None,
        lease: float | None = None,
        permanent: bool = False,
    ) -> float | None:
        """Bind ``name`` to ``ref``; fails with orb.AlreadyBound if it is bound.

        Returns the lease granted in seconds (None for a permanent binding);
        the caller must ``renew`` within it to keep the name.
        """
        return self._put(name, ref, metadata, lease, permanent, replace=False)

    @orb.expose
    def rebind(
        self,
        name: str,
        ref: Any,
        metadata: dict | None = None,
        lease: float | None = None,
        permanent: bool = False,
    ) -> float | None:
        """Bind ``name`` to ``ref``, replacing a binding the caller owns (or an expired one)."""
        return self._put(name, ref, metadata, lease, permanent, replace=True)

    @orb.expose
    def unbind(self, name: str) -> None:
        """Remove the binding of ``name``; only its owner may."""
        _valid(validate, name)
        owner = _caller()
        with self._lock:
            binding = self._live(name)
            if binding is None:
                raise orb.NameNotFound(f"name {name!r} is not bound")
            self._check_owner(binding, owner, "unbind")
            self.store.delete(name)
            del self._bindings[name]
        log.info("unbound %s", name)

    @orb.expose
    def resolve(self, name: str) -> Proxy:
        """The object bound to ``name``; raises orb.NameNotFound."""
        _valid(validate, name)
        with self._lock:
            binding = self._live(name)
        if binding is None:
            raise orb.NameNotFound(f"name {name!r} is not bound")
        return _proxy(binding.record.ref)

    @orb.expose
    def list(
        self,
        prefix: str = "",
        pattern: str | None = None,
        metadata: dict | None = None,
        recursive: bool = False,
    ) -> list[dict[str, Any]]:
        """Bindings and sub-contexts under ``prefix``.

        With a context prefix ('' or ending in '/') and no pattern or
        metadata filter, lists its direct children: bindings and
        sub-contexts (``{"name": "apps/chat/", "context": True}``).
        Otherwise (or with ``recursive=True``) lists every binding whose
        name starts with ``prefix``, matches the glob ``pattern`` and
        carries all the ``metadata`` key/values. Each binding is a map with
        name, ref (a proxy), metadata, permanent and expires_in (seconds).
        """
        if not isinstance(prefix, str):
            raise TypeError("prefix must be a string")
        if metadata is not None and not isinstance(metadata, dict):
            raise TypeError("metadata filter must be a map of key/values")
        now = self._clock()
        with self._lock:
            live = {n: b for n, b in self._bindings.items() if b.alive(now)}
        if prefix == "" or prefix.endswith("/"):
            _valid(validate_context, prefix)
            if not (recursive or pattern or metadata):
                names, contexts = children(list(live), prefix)
                return [*({"name": c, "context": True} for c in contexts),
                        *(self._describe(live[n], now) for n in names)]
        return [
            self._describe(binding, now)
            for name, binding in sorted(live.items())
            if name.startswith(prefix)
            and matches(name, pattern)
            and _has_metadata(binding.record.metadata, metadata)
        ]

    @orb.expose
    def renew(self, names: Sequence[str]) -> dict[str, Any]:
        """Extend the caller's leases on ``names``.

        Returns ``{"lease": seconds, "lost": [...]}``: ``lost`` lists the
        names the caller no longer holds (expired and taken, or unbound),
        which it may bind again.
        """
        if not isinstance(names, (list, tuple)):
            raise TypeError("renew takes a list of names")
        owner = _caller()
        now = self._clock()
        lost = []
        with self._lock:
            for name in names:
                binding = self._bindings.get(name)
                if binding is None or binding.record.owner != owner or not binding.alive(now):
                    lost.append(name)
                elif binding.expires_at is not None:
                    self._bindings[name] = attrs.evolve(
                        binding, expires_at=now + (binding.record.lease or self.lease)
                    )
        return {"lease": self.lease, "lost": lost}

    @orb.expose
    def ping(self) -> str:
        """Answer ``"pong"``: the service is alive."""
        return "pong"

    @orb.expose
    def info(self) -> dict[str, Any]:
        """What this naming service is: ORB id (hex, as its mDNS record says), store,
        default lease, binding count, uptime."""
        now = self._clock()
        with self._lock:
            count = sum(1 for b in self._bindings.values() if b.alive(now))
        try:
            orb_id: str | None = orb.current().broker.orb_id.hex()
        except RuntimeError:  # called locally
            orb_id = None
        return {
            "service": "orb-naming",
            "orb_id": orb_id,
            "store": self.store.description,
            "lease": self.lease,
            "bindings": count,
            "uptime": now - self._started,
        }

    # -- local operations -------------------------------------------------

    def sweep(self) -> builtins.list[str]:  # the method list hides the type here
        """Drop expired bindings from memory and the store; returns their names."""
        now = self._clock()
        with self._lock:
            expired = [n for n, b in self._bindings.items() if not b.alive(now)]
            for name in expired:
                self.store.delete(name)
                del self._bindings[name]
        for name in expired:
            log.info("lease of %s expired", name)
        return expired

    def close(self) -> None:
        """Close the store."""
        with self._lock:
            self.store.close()

    # -- internals --------------------------------------------------------

    def _put(
        self, name: str, target: Any, metadata: dict | None, lease: float | None,
        permanent: bool, *, replace: bool,
    ) -> float | None:
        _valid(validate, name)
        ref = _ref_of(target)
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict) or not all(isinstance(k, str) for k in metadata):
            raise TypeError("metadata must be a map with string keys")
        if lease is not None and not isinstance(lease, (int, float)):
            raise TypeError("lease must be a number of seconds")
        if permanent and not self._caller_is_admin():
            raise orb.AccessDenied(
                f"cannot bind {name!r} permanently: permanent bindings are for administrators "
                "(callers on the naming service's own host, over loopback or a Unix socket, or "
                "with a certificate identity listed by orb-naming --admin)"
            )
        granted = None if permanent else min(max(lease or self.lease, MIN_LEASE), MAX_LEASE)
        owner = _caller()
        record = Record(name=name, ref=ref, metadata=metadata, owner=owner, lease=granted)
        with self._lock:
            now = self._clock()
            current = self._live(name, now)
            if current is not None:
                if not replace:
                    raise orb.AlreadyBound(
                        f"name {name!r} is already bound (to {current.record.ref}); "
                        "use rebind to replace a binding you own"
                    )
                self._check_owner(current, owner, "rebind")
            self.store.put(record)
            self._bindings[name] = _Binding(
                record=record, expires_at=None if granted is None else now + granted
            )
        log.info("%s %s -> %s (lease %s)", "rebound" if replace else "bound", name, ref, granted)
        return granted

    def _live(self, name: str, now: float | None = None) -> _Binding | None:
        binding = self._bindings.get(name)
        if binding is None or not binding.alive(self._clock() if now is None else now):
            return None
        return binding

    def _caller_is_admin(self) -> bool:
        """Administrators: local callers, and certificate identities in ``admins``."""
        try:
            peer = orb.current().peer
        except RuntimeError:
            return True  # called in process
        matches = getattr(peer.identity, "matches", None)
        if matches is not None and any(matches(who) for who in self.admins):
            return True
        return _is_local_address(peer.address)

    @staticmethod
    def _check_owner(binding: _Binding, owner: str, action: str) -> None:
        if binding.record.owner != owner:
            raise orb.AccessDenied(
                f"cannot {action} {binding.record.name!r}: it is held by another owner "
                f"until its lease expires"
            )

    def _describe(self, binding: _Binding, now: float) -> dict[str, Any]:
        record = binding.record
        return {
            "name": record.name,
            "ref": _proxy(record.ref),
            "metadata": record.metadata,
            "permanent": binding.expires_at is None,
            "expires_in": None if binding.expires_at is None else max(0.0, binding.expires_at - now),
        }


def _valid(check: Callable[[object], str], text: object) -> str:
    """Run a name check, raising a builtin ValueError.

    A remote caller receives a builtin exception as itself, but
    InvalidName (a ValueError too) only as orb.RemoteError.
    """
    try:
        return check(text)
    except InvalidName as exc:
        raise ValueError(str(exc)) from None


def _is_local_address(address: str) -> bool:
    """True for a Unix socket path or a loopback ``host:port``."""
    if address.startswith("/"):
        return True
    host = address.rpartition(":")[0].strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _caller() -> str:
    """The owner key of the current caller: certificate identity, else ORB id."""
    try:
        peer = orb.current().peer
    except RuntimeError:
        return "local"
    identity = getattr(peer.identity, "name", None) or peer.identity
    if identity:
        return f"id:{identity}"
    return f"orb:{peer.orb_id.hex()}"


def _ref_of(target: Any) -> ObjectRef:
    if isinstance(target, ObjectRef):
        ref = target
    elif isinstance(target, Proxy):
        ref = target._orb_ref
    else:  # an object of the naming service's own broker, come home
        try:
            ref = orb.current().broker.ref(target)
        except (RuntimeError, TypeError) as exc:
            raise TypeError(f"cannot bind a name to a {type(target).__qualname__} value: {exc}") from None
    if not ref.endpoints:
        raise ValueError(
            "cannot bind a name to an object of a client-only ORB: it has no endpoints others "
            "could connect to (give that ORB a listen= endpoint)"
        )
    return ref


def _proxy(ref: ObjectRef) -> Proxy:
    try:
        broker = orb.current().broker
    except RuntimeError:
        from orb._default import default_broker

        broker = default_broker()
    return broker.proxy(ref)


def _has_metadata(metadata: dict, wanted: dict | None) -> bool:
    if not wanted:
        return True
    return all(k in metadata and metadata[k] == v for k, v in wanted.items())
