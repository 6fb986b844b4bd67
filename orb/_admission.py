"""Admission of incoming connections: bounds in total and per peer address.

Every accepted connection costs a thread and a file descriptor until it
ends, so a listener counts them; the accept loop closes a connection at
once when a bound is reached, before any byte of it is read.
"""

from __future__ import annotations

import threading
from collections import Counter


def peer_host(peer_address: str) -> str:
    """The host part of ``host:port`` or ``[v6]:port``."""
    host = peer_address.rpartition(":")[0] or peer_address
    return host[1:-1] if host.startswith("[") else host


class Admission:
    """Counts open incoming connections, in total and per peer host."""

    def __init__(self, total: int, per_address: int) -> None:
        self.total = total
        self.per_address = per_address
        self._lock = threading.Lock()
        self._open = 0
        self._by_host: Counter[str] = Counter()

    def admit(self, host: str | None) -> str | None:
        """Count one more connection from ``host`` (None: not counted per address).

        Returns None when admitted, else why it is refused (nothing counted).
        """
        with self._lock:
            if self._open >= self.total:
                return f"{self._open} connections are open (limit max_connections={self.total})"
            if host is not None and self._by_host[host] >= self.per_address:
                return (f"{self._by_host[host]} connections from {host} are open "
                        f"(limit max_connections_per_address={self.per_address})")
            self._open += 1
            if host is not None:
                self._by_host[host] += 1
            return None

    def release(self, host: str | None) -> None:
        """Forget one admitted connection from ``host``."""
        with self._lock:
            self._open -= 1
            if host is not None:
                self._by_host[host] -= 1
                if self._by_host[host] <= 0:
                    del self._by_host[host]

    def count(self, host: str | None = None) -> int:
        """Open connections in total, or from ``host``."""
        with self._lock:
            return self._open if host is None else self._by_host.get(host, 0)
