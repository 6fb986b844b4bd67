"""The owner side of the distributed GC: the ``orb.dgc`` object every broker hosts.

Clients call ``dirty`` when they receive a reference and to renew their
leases, and ``clean`` when their last proxy is gone. An implicitly exported
object (one exported on the fly because it was passed by reference) that
has no live lease and no reference in transit is unexported, and its
``__orb_unreferenced__`` hook, if any, runs once. Pinned objects (explicit
exports, named ones, or ``broker.pin(obj)``) are never collected.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orb
from orb._config import DGCConfig
from orb._table import Entry

from ._leases import LeaseTable

# ORB ids are 16 bytes (the HELLO message); a lease key may follow one with a
# certificate fingerprint (see Collector._check_client).
_ORB_ID_SIZE = 16

if TYPE_CHECKING:
    from orb._broker import ORB

log = logging.getLogger("orb.gc")

#: The object id of every broker's DGC object.
DGC_OBJECT_ID = "orb.dgc"


class Collector:
    """Tracks who holds this broker's objects and unexports the unreferenced ones."""

    def __init__(
        self, broker: ORB, config: DGCConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._broker = broker
        self._table = broker._table
        self.config = config
        self._clock = clock
        self._leases = LeaseTable(transit=config.transit_timeout)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.counts = {"dirty": 0, "renew": 0, "clean": 0, "collected": 0, "sweeps": 0}

    # -- remote interface (called by other brokers' lease holders) -----------

    @orb.expose
    def dirty(self, client_orb_id: bytes, seq: int, ids: list[str], lease: float) -> dict[str, Any]:
        """Claim (or renew the claim on) objects for ``lease`` seconds at most.

        Returns ``{"lease": granted seconds, "missing": [ids not exported]}``.
        """
        client = self._check_client(client_orb_id)
        _check_args(seq, ids)
        if isinstance(lease, bool) or not isinstance(lease, (int, float)):
            raise TypeError("lease must be a number of seconds")
        granted = float(min(lease, self.config.lease) if lease > 0 else self.config.lease)
        now = self._clock()
        missing = []
        with self._lock:
            live = []
            for object_id in ids:
                if self._table.lookup(object_id) is None:
                    missing.append(object_id)
                else:
                    live.append(object_id)
            renewals = sum(1 for i in live if client in self._leases.holders(i, now))
            self._leases.dirty(client, seq, live, granted, now)
            self.counts["renew"] += renewals
            self.counts["dirty"] += len(live) - renewals
        self._ensure_sweeper()
        return {"lease": granted, "missing": missing}

    @orb.expose
    def clean(self, client_orb_id: bytes, seq: int, ids: list[str]) -> None:
        """Drop the caller's claims; objects left unreferenced are collected now."""
        client = self._check_client(client_orb_id)
        _check_args(seq, ids)
        with self._lock:
            dropped = self._leases.clean(client, seq, ids)
            self.counts["clean"] += len(dropped)
            # Expiry is the sweeper's job (it allows for time this process was
            # suspended); a clean frees only objects left with no claim at all.
            unreferenced = [i for i in dropped if self._leases.idle(i)]
            for object_id in unreferenced:
                self._leases.forget(object_id)
            collected = self._unexport(unreferenced)
        self._run_hooks(collected)

    # -- owner-side hooks used by the broker ---------------------------------

    def export_for_transit(self, obj: Any) -> Entry:
        """Export ``obj`` implicitly (or find it) and hold it while its reference travels."""
        with self._lock:
            entry = self._table.find(obj) or self._table.add(obj, pinned=not self.config.enabled)
            if not entry.pinned:
                self._leases.hold_in_transit(entry.object_id, self._clock())
        if not entry.pinned:
            self._ensure_sweeper()
        return entry

    def pin(self, obj: Any) -> Entry:
        """Export ``obj`` if needed and never collect it (its leases are forgotten)."""
        with self._lock:
            entry = self._table.find(obj) or self._table.add(obj, pinned=True)
            entry.pinned = True
            self._leases.forget(entry.object_id)
        return entry

    def forget(self, object_id: str) -> None:
        """Forget the leases of an object that was unexported explicitly."""
        with self._lock:
            self._leases.forget(object_id)

    def sweep(self, *, stalled: float = 0.0) -> list[str]:
        """Expire stale leases and transits; collect what became unreferenced.

        ``stalled`` is time during which this broker could not have heard
        renewals (its process was suspended): every lease is extended by it
        first, so clients are not blamed for the owner's own outage.
        """
        with self._lock:
            if stalled > 0:
                self._leases.extend(stalled)
            unreferenced = self._leases.sweep(self._clock())
            collected = self._unexport(unreferenced)
            self.counts["sweeps"] += 1
        self._run_hooks(collected)
        return [e.object_id for e in collected]

    def holders(self, object_id: str) -> list[bytes]:
        with self._lock:
            return self._leases.holders(object_id, self._clock())

    def stats(self) -> dict[str, Any]:
        now = self._clock()
        with self._lock:
            leases = self._leases.stats(now)
            holders = {  # by ORB id (a lease key may carry a certificate fingerprint too)
                e.object_id: [h[:_ORB_ID_SIZE].hex() for h in self._leases.holders(e.object_id, now)]
                for e in self._table.entries()
            }
        return {
            "lease": float(self.config.lease),
            "holders": {k: v for k, v in holders.items() if v},
            "pending_transits": leases["transits"],
            "counts": dict(self.counts),
        }

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)

    # -- internals -------------------------------------------------------------

    def _check_client(self, client_orb_id: bytes) -> bytes:
        """The key the caller's leases are held under.

        A caller may claim only the ORB id of its own connection. That id is
        the peer's own unsigned claim, so over TLS with a client certificate
        the key is the ORB id and the certificate's fingerprint together: a
        peer with another certificate that claims the same id holds, renews
        and cleans leases of its own, never those of the real one.
        """
        if not isinstance(client_orb_id, bytes):
            raise TypeError("client_orb_id must be the caller's ORB id (bin)")
        try:
            peer = orb.current().peer
        except RuntimeError:
            return client_orb_id
        if client_orb_id != peer.orb_id:
            raise orb.AccessDenied("a broker may only dirty or clean its own leases")
        fingerprint = getattr(peer.identity, "fingerprint", None)
        if fingerprint:
            return client_orb_id + bytes.fromhex(fingerprint)
        return client_orb_id

    def _unexport(self, object_ids: list[str]) -> list[Entry]:
        collected = []
        for object_id in object_ids:
            entry = self._table.lookup(object_id)
            if entry is None or entry.pinned:
                continue
            self._table.remove(object_id, reason="was collected by the distributed GC: no client "
                               "held a lease on it")
            collected.append(entry)
        self.counts["collected"] += len(collected)
        return collected

    def _run_hooks(self, entries: list[Entry]) -> None:
        for entry in entries:
            log.debug("collected %s %s", entry.type_name, entry.object_id)
            hook = getattr(entry.target, "__orb_unreferenced__", None)
            if hook is not None:
                try:
                    self._broker._pool.submit(_call_hook, hook, entry)
                except RuntimeError:  # the broker is closing: run it here
                    _call_hook(hook, entry)

    def _ensure_sweeper(self) -> None:
        if self._thread is None and not self._stop.is_set():
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._sweep_loop, name="orb-dgc-sweeper", daemon=True
                    )
                    self._thread.start()

    def _sweep_loop(self) -> None:
        every = self.config.sweep_every
        last = self._clock()
        while not self._stop.wait(every):
            now = self._clock()
            # Woken much later than asked: the process was stopped (SIGSTOP,
            # a suspended VM) and heard no renewals meanwhile.
            stalled = now - last - every
            last = now
            if stalled > every:
                log.info("DGC sweeper was stalled for %.2gs; extending leases by as much", stalled)
            try:
                self.sweep(stalled=stalled if stalled > every else 0.0)
            except Exception:
                log.exception("DGC sweep failed")


def _check_args(seq: Any, ids: Any) -> None:
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise TypeError("seq must be a non-negative int")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise TypeError("ids must be a list of object ids (str)")


def _call_hook(hook: Callable[[], Any], entry: Entry) -> None:
    try:
        hook()
    except Exception:
        log.exception("__orb_unreferenced__ of %s raised", entry.type_name)
