"""The client side of the distributed GC: leases this broker holds on others' objects.

When references to collectable objects arrive, the broker calls
:meth:`LeaseHolder.adopt` before user code sees the proxies: one ``dirty``
call per owner, synchronously. A background thread renews every lease with
an owner in one batched ``dirty`` at half the lease, and sends ``clean``
when the last proxy for an object was garbage collected. Weakref
finalizers only put a note on a lock-free queue: nothing is sent, and no
lock is taken, from inside garbage collection. Renewal failures are
retried with backoff and logged, never raised into user calls.

Sequence numbers come from one counter per broker. A ``clean`` takes its
number *before* it checks that no new proxy for the object arrived, so a
``dirty`` for a proxy made after that check always carries a higher number
and the owner never lets the late ``clean`` cancel it.
"""

from __future__ import annotations

import collections
import itertools
import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from orb._proxy import Proxy
from orb._refs import ObjectRef

from ._collector import DGC_OBJECT_ID

if TYPE_CHECKING:
    from orb._broker import ORB

log = logging.getLogger("orb.gc")

#: Longest a dirty or clean call may take before it counts as failed; short
#: leases shorten it (a quarter of the lease), so a hung owner cannot hold up
#: the renewal of other owners' leases for long.
CALL_TIMEOUT = 10.0
MIN_CALL_TIMEOUT = 0.5

#: Longest a claim may hold up the user call that carried the references;
#: a claim that fails is retried in the background (the owner's transit
#: hold keeps the objects meanwhile).
CLAIM_TIMEOUT = 2.0

#: Shortest wait before retrying a failed dirty call; each further failure
#: doubles it, up to a quarter of the lease.
FIRST_RETRY = 0.25

_WAKE = None  # a queue item that only wakes the upkeep thread


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
        self._lease = float(lease)
        self._transit = transit
        self._clock = clock
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self._owners: dict[bytes, _Owner] = {}
        # (orb id, object id) of released proxies, or _WAKE. SimpleQueue.put is
        # safe inside garbage collection (it takes no Python-level lock).
        self._queue: queue.SimpleQueue[tuple[bytes, str] | None] = queue.SimpleQueue()
        # Forwarded proxies kept alive, by (orb id, object id): (deadline, proxy),
        # oldest deadline first; forwarding one again moves it to the end.
        self._in_transit: collections.OrderedDict[tuple[bytes, str], tuple[float, Proxy]] = (
            collections.OrderedDict()
        )
        self._stopped = False
        self._thread: threading.Thread | None = None
        self.counts = {"dirty": 0, "renew": 0, "clean": 0, "failures": 0}

    # -- called by the broker -------------------------------------------------

    def adopt(self, proxies: list[Proxy]) -> None:
        """Claim leases on newly arrived references (one dirty call per owner).

        Never raises: a failed claim is logged and retried in the background.
        """
        by_owner: dict[bytes, list[Proxy]] = {}
        with self._lock:
            if self._stopped:
                return
            for proxy in proxies:
                if proxy.__dict__.get("_orb_leased"):
                    continue
                object.__setattr__(proxy, "_orb_leased", True)
                by_owner.setdefault(proxy._orb_ref.orb_id, []).append(proxy)
        for orb_id, owned in by_owner.items():
            ids = [p._orb_ref.object_id for p in owned]
            with self._lock:
                owner = self._owners.get(orb_id)
                if owner is None:
                    owner = self._owners[orb_id] = _Owner(orb_id, owned[0]._orb_ref.endpoints)
                owner.held.update(ids)
                for proxy in owned:
                    weakref.finalize(proxy, self._queue.put, (orb_id, proxy._orb_ref.object_id))
                seq = next(self._seq)
            self._dirty(owner, seq, ids, renewal=False)
        self._start()
        # The upkeep thread may be asleep until a later time than the renewal
        # (or retry) just scheduled.
        self._queue.put(_WAKE)

    def in_transit(self, proxy: Proxy) -> None:
        """Keep a forwarded proxy (and so its lease) alive while the receiver claims it."""
        with self._lock:
            key = (proxy._orb_ref.orb_id, proxy._orb_ref.object_id)
            self._in_transit[key] = (self._clock() + self._transit, proxy)
            self._in_transit.move_to_end(key)
        self._start()

    def close(self) -> None:
        """Stop the thread and clean every lease held (best effort).

        Leases on objects whose proxies were just forwarded are not cleaned:
        the receiver may not have claimed them yet, so they are left to
        expire at their owner.
        """
        with self._lock:
            self._stopped = True
            owners = list(self._owners.values())
            self._owners.clear()
            forwarded = set(self._in_transit)
            self._in_transit.clear()
        self._queue.put(_WAKE)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        for owner in owners:
            ids = sorted(i for i in owner.held if (owner.orb_id, i) not in forwarded)
            if ids:
                self._clean(owner, next(self._seq), ids, timeout=2.0)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            held = {o.orb_id.hex(): len(o.held) for o in self._owners.values() if o.held}
            transits = len(self._in_transit)
        return {"held": held, "forwarded_in_transit": transits, "counts": dict(self.counts)}

    # -- the upkeep thread ---------------------------------------------------------

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
            released: list[tuple[bytes, str]] = []
            try:
                item = self._queue.get(timeout=self._next_wakeup())
                while True:
                    if item is not _WAKE:
                        released.append(item)
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            if self._stopped:
                return
            try:
                self._drop_expired_transits()
                self._send_cleans(released)
                self._renew_due()
            except Exception:
                log.exception("DGC lease upkeep failed")

    def _next_wakeup(self) -> float:
        now = self._clock()
        with self._lock:
            times = [o.renew_at for o in self._owners.values() if o.held]
            if self._in_transit:
                times.append(next(iter(self._in_transit.values()))[0])
        return max(0.01, min(times) - now) if times else 3600.0

    def _drop_expired_transits(self) -> None:
        now = self._clock()
        with self._lock:
            expired = []
            while self._in_transit:
                key, (deadline, proxy) = next(iter(self._in_transit.items()))
                if deadline > now:
                    break
                del self._in_transit[key]
                expired.append(proxy)
        del expired  # the proxies may die here: their finalizers only enqueue

    def _send_cleans(self, released: list[tuple[bytes, str]]) -> None:
        batches: list[tuple[_Owner, int, list[str]]] = []
        with self._lock:
            seq = next(self._seq)  # before the liveness check; see the module docstring
            by_owner: dict[bytes, list[str]] = {}
            for orb_id, object_id in released:
                # A reference that arrived again since has a live proxy and a
                # newer dirty; cleaning now would cancel it.
                if self._broker._ref_hooks.proxies.get((orb_id, object_id)) is not None:
                    continue
                owner = self._owners.get(orb_id)
                if owner is None or object_id not in owner.held:
                    continue
                owner.held.discard(object_id)
                by_owner.setdefault(orb_id, []).append(object_id)
            for orb_id, ids in by_owner.items():
                owner = self._owners[orb_id]
                if not owner.held:
                    del self._owners[orb_id]
                batches.append((owner, seq, ids))
        for owner, seq, ids in batches:
            self._clean(owner, seq, ids, timeout=self._timeout(owner))

    def _renew_due(self) -> None:
        now = self._clock()
        with self._lock:
            due = [
                (o, next(self._seq), sorted(o.held))
                for o in self._owners.values()
                if o.held and o.renew_at <= now
            ]
        for owner, seq, ids in due:
            self._dirty(owner, seq, ids, renewal=True)

    # -- calls to owners --------------------------------------------------------------

    def _timeout(self, owner: _Owner) -> float:
        return min(CALL_TIMEOUT, max((owner.lease or self._lease) / 4, MIN_CALL_TIMEOUT))

    def _dirty(self, owner: _Owner, seq: int, ids: list[str], *, renewal: bool) -> None:
        what = "renewal" if renewal else "claim"
        timeout = self._timeout(owner) if renewal else min(self._timeout(owner), CLAIM_TIMEOUT)
        try:
            answer = self._call(
                owner, "dirty", [self._broker.orb_id, seq, ids, self._lease], timeout=timeout
            )
            lease = float(answer["lease"])
            missing = list(answer.get("missing", ()))
        except Exception as exc:  # noqa: BLE001 - a lease failure never reaches user code
            self._failed(owner, what, len(ids), exc)
            return
        if owner.failures:
            log.info("lease %s with %s succeeded again", what, _short(owner.orb_id))
        owner.failures = 0
        owner.lease = lease
        owner.renew_at = self._clock() + lease / 2
        if missing:
            log.info("%d object(s) of %s are gone", len(missing), _short(owner.orb_id))
            with self._lock:
                owner.held.difference_update(missing)
                if not owner.held and self._owners.get(owner.orb_id) is owner:
                    del self._owners[owner.orb_id]
        self.counts["renew" if renewal else "dirty"] += len(ids) - len(missing)

    def _failed(self, owner: _Owner, what: str, count: int, exc: Exception) -> None:
        owner.failures += 1
        self.counts["failures"] += 1
        channel = self._broker._channels.by_orb.get(owner.orb_id)
        if not owner.endpoints and (channel is None or channel.closed):
            # A client-only ORB is reachable only over its own connection;
            # once that is gone its objects are gone for good.
            log.info(
                "lease %s for %d object(s) of %s failed and it listens nowhere: dropping them",
                what, count, _short(owner.orb_id),
            )
            with self._lock:
                if self._owners.get(owner.orb_id) is owner:
                    del self._owners[owner.orb_id]
                owner.held.clear()
            return
        # Retry well within the lease: quickly at first, backing off.
        lease = owner.lease or self._lease
        retry = min(FIRST_RETRY * 2 ** (owner.failures - 1), max(lease / 4, FIRST_RETRY))
        owner.renew_at = self._clock() + retry
        log.log(
            logging.WARNING if owner.failures == 1 else logging.DEBUG,
            "lease %s for %d object(s) of %s failed (%s: %s); retrying in %.2gs",
            what, count, _short(owner.orb_id), type(exc).__name__, exc, retry,
        )

    def _clean(self, owner: _Owner, seq: int, ids: list[str], *, timeout: float) -> None:
        try:
            self._call(owner, "clean", [self._broker.orb_id, seq, ids], timeout=timeout)
            self.counts["clean"] += len(ids)
        except Exception as exc:  # noqa: BLE001 - as for dirty
            # The owner will expire the lease by itself.
            log.info("clean of %d object(s) at %s failed: %s", len(ids), _short(owner.orb_id), exc)

    def _call(self, owner: _Owner, method: str, args: list, timeout: float | None = None) -> Any:
        ref = ObjectRef(object_id=DGC_OBJECT_ID, orb_id=owner.orb_id, endpoints=owner.endpoints)
        channel = self._broker._channels.for_ref(ref)
        return channel.call(DGC_OBJECT_ID, method, args, {},
                            self._timeout(owner) if timeout is None else timeout)


def _short(orb_id: bytes) -> str:
    return orb_id.hex()[:8]
