"""Where bindings are kept: in memory, or in an SQLite file that survives restarts.

The naming service keeps its bindings in memory and writes every change
through a store before it acknowledges it. A store holds what outlives a
restart (name, reference, metadata, owner, lease length), never expiry
times: after a restart every leased binding gets one fresh lease period for
its owner to renew, and permanent bindings stay as they are.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from typing import Protocol

import attrs

from orb._refs import ObjectRef
from orb._wire import Codec


@attrs.frozen(kw_only=True)
class Record:
    """A binding as stored: ``lease`` is None for a permanent binding."""

    name: str
    ref: ObjectRef
    metadata: dict = attrs.Factory(dict)
    owner: str = ""
    lease: float | None = None


class Store(Protocol):
    """Persistence for bindings; every method is called under the service's lock."""

    description: str

    def load(self) -> list[Record]:
        """Every stored binding."""

    def put(self, record: Record) -> None:
        """Insert or replace one binding, durably, before returning."""

    def delete(self, name: str) -> None:
        """Remove one binding, durably, before returning."""

    def close(self) -> None:
        """Release the store."""


class MemoryStore:
    """Keeps nothing beyond the process: bindings live only in the service."""

    description = "memory"

    def load(self) -> list[Record]:
        return []

    def put(self, record: Record) -> None:
        pass

    def delete(self, name: str) -> None:
        pass

    def close(self) -> None:
        pass


_SCHEMA = """
CREATE TABLE IF NOT EXISTS bindings (
    name      TEXT PRIMARY KEY,
    orb_id    BLOB NOT NULL,
    object_id TEXT NOT NULL,
    endpoints BLOB NOT NULL,
    interface TEXT NOT NULL,
    metadata  BLOB NOT NULL,
    owner     TEXT NOT NULL,
    lease     REAL
)
"""


class SQLiteStore:
    """Bindings in an SQLite file; each change is one committed transaction.

    Raises OSError when the file cannot be opened or is not an SQLite store.

    The journal is in WAL mode with ``synchronous=FULL``, so a change that
    was acknowledged survives a crash of the daemon or the machine.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self.description = f"sqlite:{self.path}"
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute(_SCHEMA)
            except BaseException:
                self._db.close()
                raise
        except sqlite3.Error as exc:
            raise OSError(f"cannot use {self.path} as an SQLite store: {exc}") from None
        codec = Codec()
        self._encode = codec.encoder()
        self._decode = codec.decoder()

    def load(self) -> list[Record]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, orb_id, object_id, endpoints, interface, metadata, owner, lease "
                "FROM bindings"
            ).fetchall()
        return [
            Record(
                name=name,
                ref=ObjectRef(
                    object_id=object_id,
                    orb_id=bytes(orb_id),
                    endpoints=tuple(self._decode(endpoints)),
                    interface=interface,
                ),
                metadata=self._decode(metadata),
                owner=owner,
                lease=lease,
            )
            for name, orb_id, object_id, endpoints, interface, metadata, owner, lease in rows
        ]

    def put(self, record: Record) -> None:
        ref = record.ref
        row = (
            record.name,
            ref.orb_id,
            ref.object_id,
            self._encode(list(ref.endpoints)),
            ref.interface,
            self._encode(record.metadata),
            record.owner,
            record.lease,
        )
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO bindings "
                "(name, orb_id, object_id, endpoints, interface, metadata, owner, lease) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )

    def delete(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM bindings WHERE name = ?", (name,))

    def close(self) -> None:
        with self._lock:
            self._db.close()


def default_store_path() -> str:
    """The daemon's default store: ``$XDG_STATE_HOME/orb/naming.sqlite3``."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(state, "orb", "naming.sqlite3")
