"""Finding and using a naming service from a broker.

Where the naming service is, in order of precedence: an explicit
``naming=`` argument (or ``orb.ORB(naming=...)``), the ``ORB_NAMING``
environment variable (``host:port``, an endpoint or an object URI), else
mDNS discovery (:func:`orb.naming.locate`).

:class:`NameKeeper` holds the names a broker bound with
``broker.export(obj, name=...)``: it renews their leases in the background
and unbinds them when the object is unexported or the broker closes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

import attrs

from orb._errors import AccessDenied, AlreadyBound, CommunicationError, NameNotFound, OrbError
from orb._proxy import Proxy, call_timeout
from orb._refs import REF_SCHEMES, Endpoint, uri_for

from ._mdns import locate
from ._names import validate
from ._service import NAMING_OBJECT_ID

if TYPE_CHECKING:
    from orb._broker import ORB

log = logging.getLogger("orb.naming")

#: Environment variable naming the naming service (skips discovery).
NAMING_ENV = "ORB_NAMING"


def naming_uri(address: str) -> str:
    """The URI of the naming service object at ``address``.

    ``address`` is ``host:port``, an endpoint (``tcp://host:port``,
    ``unix:///path``) or already an object URI.
    """
    address = address.strip()
    if address.split("://", 1)[0] in REF_SCHEMES.values():
        return address
    if "://" not in address:
        address = f"tcp://{address}"
    return uri_for(Endpoint.parse(address), NAMING_OBJECT_ID)


def find_naming(naming: str | None = None, *, domain: str | None = None, timeout: float = 3.0) -> str:
    """The naming service URI: explicit argument, else ORB_NAMING, else mDNS."""
    if naming:
        return naming_uri(naming)
    from_env = os.environ.get(NAMING_ENV, "").strip()
    if from_env:
        return naming_uri(from_env)
    return naming_uri(locate(domain=domain, timeout=timeout))


def naming_proxy(
    naming: str | None = None, *, broker: ORB | None = None, timeout: float | None = None
) -> Proxy:
    """A proxy for the naming service (found as :func:`find_naming` says)."""
    from orb._default import default_broker

    broker = broker or default_broker()
    configured = naming or getattr(broker.config, "naming", None)
    if configured or os.environ.get(NAMING_ENV, "").strip():
        return broker.proxy(find_naming(configured), timeout=timeout)
    # Only a service found by mDNS is remembered: finding it again costs a browse.
    cache = broker.__dict__.setdefault("_naming_proxies", {})
    proxy = cache.get("")
    if proxy is None:
        proxy = broker.proxy(find_naming(), timeout=timeout)
        cache[""] = proxy
    return proxy


def _remembered(naming: str | None, broker: ORB) -> bool:
    """Whether ``naming_proxy`` would answer with a service found by mDNS earlier."""
    if naming or getattr(broker.config, "naming", None) or os.environ.get(NAMING_ENV, "").strip():
        return False
    return "" in broker.__dict__.get("_naming_proxies", {})


def forget_naming(naming: str | None = None, *, broker: ORB | None = None) -> None:
    """Forget the naming service found earlier, so the next use looks again."""
    from orb._default import default_broker

    broker = broker or default_broker()
    configured = naming or getattr(broker.config, "naming", None)
    broker.__dict__.get("_naming_proxies", {}).pop(configured or "", None)


def resolve(name: str, *, timeout: float | None = None, naming: str | None = None) -> Proxy:
    """A proxy for the object bound to ``name``; raises orb.NameNotFound."""
    from orb._default import default_broker

    validate(name)
    broker = default_broker()
    found_earlier = _remembered(naming, broker)
    # The lookup itself waits at most ``timeout`` too, whatever proxy asks.
    waiting = call_timeout(timeout) if timeout is not None else contextlib.nullcontext()
    with waiting:
        service = naming_proxy(naming, broker=broker)  # discovery errors propagate
        try:
            result = service.resolve(name)
        except CommunicationError:
            if not found_earlier:
                raise  # a configured address, or one just found: looking again finds the same
            # The naming service found earlier may have moved (restarted on
            # another port and re-advertised): forget it, find it again, ask
            # once more. Resolving twice is harmless.
            forget_naming(naming, broker=broker)
            result = naming_proxy(naming, broker=broker).resolve(name)
    if timeout is not None and isinstance(result, Proxy):
        # A proxy of its own: the one that arrived is shared by every holder
        # of that reference in this broker, and keeps their timeout.
        result = broker.proxy(result, timeout=timeout)
    return result


@attrs.define
class _Held:
    name: str
    target: Any
    metadata: dict


class NameKeeper:
    """Binds names for one broker and keeps their leases alive."""

    def __init__(self, broker: ORB, naming: str | None = None) -> None:
        self._broker = broker
        self._naming = naming
        self._lock = threading.Lock()
        self._held: dict[str, _Held] = {}
        self._lease: float | None = None
        self._wake = threading.Event()
        self._stopped = False
        self._thread: threading.Thread | None = None

    def _service(self) -> Proxy:
        return naming_proxy(self._naming, broker=self._broker)

    def bind(self, name: str, target: Any, metadata: dict | None = None, *, replace: bool = False) -> None:
        """Bind ``name`` to the exported ``target`` and keep renewing it."""
        validate(name)
        service = self._service()
        operation = service.rebind if replace else service.bind
        lease = operation(name, target, metadata or {})
        with self._lock:
            self._held[name] = _Held(name, target, metadata or {})
            if lease is not None:
                self._lease = lease if self._lease is None else min(self._lease, lease)
            self._start()
        self._wake.set()

    def unbind_target(self, target: Any) -> None:
        """Unbind every name held for ``target``."""
        with self._lock:
            names = [h.name for h in self._held.values() if h.target is target]
            for name in names:
                del self._held[name]
        self._unbind(names)

    def close(self) -> None:
        """Stop renewing and unbind every held name (best effort)."""
        with self._lock:
            self._stopped = True
            names = list(self._held)
            self._held.clear()
        self._wake.set()
        self._unbind(names)

    def _unbind(self, names: list[str]) -> None:
        if not names:
            return
        try:
            service = self._service()
            for name in names:
                try:
                    service.unbind(name)
                except (NameNotFound, AccessDenied):
                    pass  # expired already, and maybe taken by someone else since
        except OrbError as exc:
            # Unreachable: stop trying (each name would wait as long); the
            # leases run out on their own.
            log.info("could not unbind %s: %s", ", ".join(names), exc)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._renew_loop, name="orb-naming-lease", daemon=True)
            self._thread.start()

    def _renew_loop(self) -> None:
        failures = 0
        while True:
            lease = self._lease or 30.0
            # Renew at a third of the lease: two attempts fit before expiry.
            interval = lease / 3 if failures == 0 else min(lease / 3, 0.2 * 2**failures)
            self._wake.wait(interval)
            self._wake.clear()
            with self._lock:
                if self._stopped:
                    return
                names = list(self._held)
            if not names:
                continue
            try:
                answer = self._service().renew(names)
                self._lease = float(answer.get("lease", lease))
                for name in answer.get("lost", []):
                    self._rebind_lost(name)
                failures = 0
            except OrbError as exc:
                failures = min(failures + 1, 8)
                log.warning("renewing %d name lease(s) failed: %s", len(names), exc)
                if isinstance(exc, CommunicationError):
                    # A service found by mDNS may have moved: look again next time.
                    forget_naming(self._naming, broker=self._broker)

    def _rebind_lost(self, name: str) -> None:
        with self._lock:
            held = self._held.get(name)
        if held is None:
            return
        try:
            self._service().bind(name, held.target, held.metadata)
            log.info("name %s was lost (lease expired or service restarted); bound it again", name)
        except AlreadyBound:
            log.warning("name %s was lost and is now bound by someone else", name)
            with self._lock:
                self._held.pop(name, None)
        except CommunicationError as exc:
            log.warning("could not bind lost name %s again: %s", name, exc)

