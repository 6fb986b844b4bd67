"""The owner's side of the distributed GC, as pure logic of ``now``.

For every exported object the owner knows who holds it: client ORB ids
with a lease expiry and the sequence number of their last dirty or clean
call, plus a transit deadline while a reference to it is on its way to a
receiver. An object with no live holder and no transit is unreferenced.

Rules (after Java RMI's DGC):

* ``dirty(client, seq, ids, now)`` adds or renews the client's claim on
  each object, unless a later call of that client was seen already.
* ``clean(client, seq, ids)`` drops the claim, unless a later dirty of that
  client was seen (a late clean never cancels a newer dirty).
* ``hold_in_transit(id, now)`` keeps the object until ``now + transit`` or
  until a client's first dirty for it arrives, whichever comes first.
* ``sweep(now)`` expires stale claims and transits and returns the ids
  that became unreferenced. Only a sweep expires anything: ``clean``
  reports an object unreferenced (``idle``) only when no claim or transit
  is left at all, expired or not.
* ``extend(seconds)`` pushes every expiry back, for time during which the
  owner itself could not listen (its process was suspended).

Nothing here knows about sockets, threads or clocks.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

#: Transits remembered per object; an object sent far more often than its
#: receivers claim it (they already hold a proxy) must not grow without bound.
MAX_TRANSITS = 32


@attrs.define
class _Object:
    claims: dict[bytes, float] = attrs.Factory(dict)  # client -> lease expiry
    # Highest sequence number seen per client: kept after a clean as a
    # tombstone, so a late dirty or a late clean is recognised and ignored.
    seqs: dict[bytes, int] = attrs.Factory(dict)
    transits: list[float] = attrs.Factory(list)  # deadlines, oldest first

    def referenced(self, now: float) -> bool:
        return any(t > now for t in self.transits) or any(e > now for e in self.claims.values())


class LeaseTable:
    """Holders and transits of every object that a client has referenced."""

    def __init__(self, *, transit: float) -> None:
        self.transit = transit
        self._objects: dict[str, _Object] = {}

    def dirty(self, client: bytes, seq: int, ids: Iterable[str], lease: float, now: float) -> None:
        """Add or renew ``client``'s claim on each object for ``lease`` seconds."""
        for object_id in ids:
            record = self._objects.setdefault(object_id, _Object())
            if seq < record.seqs.get(client, -1):
                continue
            record.seqs[client] = seq
            if client not in record.claims and record.transits:
                record.transits.pop(0)  # the reference in transit has arrived
            record.claims[client] = now + lease

    def clean(self, client: bytes, seq: int, ids: Iterable[str]) -> list[str]:
        """Drop ``client``'s claims; returns the ids whose claim was dropped."""
        dropped = []
        for object_id in ids:
            record = self._objects.get(object_id)
            if record is None or seq <= record.seqs.get(client, -1):
                continue
            record.seqs[client] = seq
            if record.claims.pop(client, None) is not None:
                dropped.append(object_id)
        return dropped

    def hold_in_transit(self, object_id: str, now: float) -> None:
        """Keep ``object_id`` alive while a reference to it travels."""
        transits = self._objects.setdefault(object_id, _Object()).transits
        transits.append(now + self.transit)
        if len(transits) > MAX_TRANSITS:  # bounded: the newest deadline still holds
            del transits[0]

    def referenced(self, object_id: str, now: float) -> bool:
        record = self._objects.get(object_id)
        return record is not None and record.referenced(now)

    def idle(self, object_id: str) -> bool:
        """True when no claim and no transit of ``object_id`` is left, live or expired."""
        record = self._objects.get(object_id)
        return record is None or not (record.claims or record.transits)

    def extend(self, seconds: float) -> None:
        """Push every claim expiry and transit deadline ``seconds`` later."""
        for record in self._objects.values():
            for client in record.claims:
                record.claims[client] += seconds
            record.transits = [t + seconds for t in record.transits]

    def sweep(self, now: float) -> list[str]:
        """Expire stale claims and transits; the ids now unreferenced (forgotten here)."""
        unreferenced = []
        for object_id, record in list(self._objects.items()):
            for client, expires in list(record.claims.items()):
                if expires <= now:
                    del record.claims[client]
            record.transits = [t for t in record.transits if t > now]
            if not record.referenced(now):
                unreferenced.append(object_id)
        for object_id in unreferenced:
            del self._objects[object_id]
        return unreferenced

    def forget(self, object_id: str) -> None:
        """Drop every record of ``object_id`` (it was unexported)."""
        self._objects.pop(object_id, None)

    def holders(self, object_id: str, now: float) -> list[bytes]:
        record = self._objects.get(object_id)
        if record is None:
            return []
        return [c for c, expires in record.claims.items() if expires > now]

    def stats(self, now: float) -> dict[str, int]:
        return {
            "tracked": len(self._objects),
            "holders": sum(len(r.claims) for r in self._objects.values()),
            "transits": sum(sum(1 for t in r.transits if t > now) for r in self._objects.values()),
        }
