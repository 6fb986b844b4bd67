"""The client side of the distributed GC: leases this broker holds on others' objects.

When references to collectable objects arrive, the broker calls
:meth:`LeaseHolder.adopt` before user code sees the proxies: one ``dirty``
call per owner, synchronously. A background thread renews every lease with
an owner in one batched ``dirty`` at half the lease, and sends ``clean``
when the last proxy for an object was garbage collected. Weakref
finalizers only enqueue: nothing is ever sent from inside garbage
collection. Renewal failures are retried with backoff and logged, never
raised into user calls.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from orb._errors import OrbError
from orb._proxy import Proxy
from orb._refs import ObjectRef

from ._collector import DGC_OBJECT_ID

if TYPE_CHECKING:
    from orb._broker import ORB

log = logging.getLogger("orb.gc")

#: Seconds a dirty or clean call may take before it counts as failed.
CALL_TIMEOUT = 10.0


@attrs.define
class _Owner:
    """What this broker holds of one owner ORB."""

    orb_id: bytes
    endpoints: tuple[str, ...]
    held: set[str] = attrs.Factory(set)
    lease: float = 0.0
    renew_at: float = 0.0
    failures: int = 0


class LeaseHolder:
    """Leases held by one broker, with the thread that renews and cleans them."""

    def __init__(
        self, broker: ORB, lease: float, *, transit: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._broker = broker
        self._lease = lease
        self._transit = transit
        self._clock = clock
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._owners: dict[bytes, _Owner] = {}
        self._cleans: collections.deque[tuple[bytes, str]] = collections.deque()
        self._in_transit: collections.deque[tuple[float, Proxy]] = collections.deque()
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.counts = {"dirty": 0, "renew": 0, "clean": 0, "failures": 0}

    # -- called by the broker -------------------------------------------------

    def adopt(self, proxies: list[Proxy]) -> None:
        """Claim leases on newly arrived references (one dirty call per owner)."""
        by_owner: dict[bytes, list[Proxy]] = {}
        with self._lock:
            for proxy in proxies:
                if proxy.__dict__.get("_orb_leased"):
                    continue
                object.__setattr__(proxy, "_orb_leased", True)
                by_owner.setdefault(proxy._orb_ref.orb_id, []).append(proxy)
        for orb_id, owned in by_owner.items():
            ref = owned[0]._orb_ref
            ids = [p._orb_ref.object_id for p in owned]
            with self._lock:
                owner = self._owners.get(orb_id)
                if owner is None:
                    owner = self._owners[orb_id] = _Owner(orb_id, ref.endpoints)
                owner.held.update(ids)
                for proxy in owned:
                    weakref.finalize(proxy, self._released, orb_id, proxy._orb_ref.object_id)
            self._dirty(owner, ids, renewal=False)
        self._start()

    def in_transit(self, proxy: Proxy) -> None:
        """Keep a forwarded proxy (and so its lease) alive while the receiver claims it."""
        with self._lock:
            self._in_transit.append((self._clock() + self._transit, proxy))
        self._start()

    def close(self) -> None:
        """Stop the thread and clean every lease held (best effort)."""
        with self._lock:
            self._stopped = True
            owners = list(self._owners.values())
            self._owners.clear()
            self._in_transit.clear()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        for owner in owners:
            if owner.held:
                self._clean(owner, sorted(owner.held), timeout=2.0)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            held = {o.orb_id.hex(): len(o.held) for o in self._owners.values() if o.held}
            transits = len(self._in_transit)
        return {"held": held, "forwarded_in_transit": transits, "counts": dict(self.counts)}

    # -- internals ----------------------------------------------------------------

    def _released(self, orb_id: bytes, object_id: str) -> None:
        # Runs inside garbage collection: only enqueue.
        self._cleans.append((orb_id, object_id))
        self._wake.set()

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped:
                    self._thread = threading.Thread(
                        target=self._run, name="orb-dgc-leases", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._next_wakeup())
            self._wake.clear()
            if self._stopped:
                return
            try:
                self._drop_expired_transits()
                self._send_cleans()
                self._renew_due()
            except Exception:
                log.exception("DGC lease upkeep failed")

    def _next_wakeup(self) -> float:
        now = self._clock()
        with self._lock:
            times = [o.renew_at for o in self._owners.values() if o.held]
            if self._in_transit:
                times.append(self._in_transit[0][0])
        return max(0.01, min(times) - now) if times else 3600.0

    def _drop_expired_transits(self) -> None:
        now = self._clock()
        with self._lock:
            while self._in_transit and self._in_transit[0][0] <= now:
                self._in_transit.popleft()

    def _send_cleans(self) -> None:
        released: dict[bytes, list[str]] = {}
        while self._cleans:
            orb_id, object_id = self._cleans.popleft()
            # A reference that arrived again since has a live proxy and a newer
            # dirty; cleaning now would cancel it.
            if self._broker._proxies.get((orb_id, object_id)) is not None:
                continue
            released.setdefault(orb_id, []).append(object_id)
        for orb_id, ids in released.items():
            with self._lock:
                owner = self._owners.get(orb_id)
                if owner is None:
                    continue
                owner.held.difference_update(ids)
                if not owner.held:
                    del self._owners[orb_id]
            self._clean(owner, ids, timeout=CALL_TIMEOUT)

    def _renew_due(self) -> None:
        now = self._clock()
        with self._lock:
            due = [o for o in self._owners.values() if o.held and o.renew_at <= now]
        for owner in due:
            with self._lock:
                ids = sorted(owner.held)
            self._dirty(owner, ids, renewal=True)

    def _dirty(self, owner: _Owner, ids: list[str], *, renewal: bool) -> None:
        seq = next(self._seq)
        try:
            answer = self._call(owner, "dirty", [self._broker.orb_id, seq, ids, self._lease])
        except OrbError as exc:
            owner.failures += 1
            self.counts["failures"] += 1
            # Retry well within the lease: quickly at first, backing off.
            retry = min(0.25 * 2 ** (owner.failures - 1), max(self._lease / 4, 0.25))
            owner.renew_at = self._clock() + retry
            log.warning(
                "lease %s with %s failed (%s); retrying in %.2gs",
                "renewal" if renewal else "claim", owner.orb_id.hex()[:8], exc, retry,
            )
            return
        owner.failures = 0
        lease = float(answer.get("lease", self._lease))
        owner.lease = lease
        owner.renew_at = self._clock() + lease / 2
        missing = answer.get("missing", [])
        if missing:
            log.info("%d object(s) of %s are gone", len(missing), owner.orb_id.hex()[:8])
            with self._lock:
                owner.held.difference_update(missing)
        self.counts["renew" if renewal else "dirty"] += len(ids)

    def _clean(self, owner: _Owner, ids: list[str], *, timeout: float) -> None:
        seq = next(self._seq)
        try:
            self._call(owner, "clean", [self._broker.orb_id, seq, ids], timeout=timeout)
            self.counts["clean"] += len(ids)
        except OrbError as exc:
            # The owner will expire the lease by itself.
            log.info("clean of %d object(s) at %s failed: %s", len(ids), owner.orb_id.hex()[:8], exc)

    def _call(self, owner: _Owner, method: str, args: list, timeout: float = CALL_TIMEOUT) -> Any:
        ref = ObjectRef(object_id=DGC_OBJECT_ID, orb_id=owner.orb_id, endpoints=owner.endpoints)
        channel = self._broker._channel_for(ref)
        return channel.call(DGC_OBJECT_ID, method, args, {}, timeout)
