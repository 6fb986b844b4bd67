"""The default broker behind ``orb.proxy``, ``orb.invoke`` and friends.

The default is the most recently created broker that is still open; when
there is none, a client-only broker is made on first use and closed at
interpreter exit. This is the one piece of process-wide state in orb, and
it only tracks brokers the user made.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._broker import ORB

_lock = threading.Lock()
_create_lock = threading.Lock()
_open: list[ORB] = []


def register(broker: ORB) -> None:
    with _lock:
        _open.append(broker)


def unregister(broker: ORB) -> None:
    with _lock:
        if broker in _open:
            _open.remove(broker)


def default_broker() -> ORB:
    """The broker used when none is given: the newest open one, or a client-only one."""
    with _lock:
        if _open:
            return _open[-1]
    from ._broker import ORB

    with _create_lock:
        with _lock:
            if _open:
                return _open[-1]
        broker = ORB()
        atexit.register(broker.close)
        return broker
