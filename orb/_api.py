"""Module-level conveniences: ``orb.proxy``, ``orb.invoke``, ``orb.describe``, ``orb.ref``.

Each works on proxies, references and URIs, using the default broker
(``orb._default``) unless a broker is given.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._default import default_broker
from ._exposure import members_of
from ._interface import Interface, describe_class
from ._proxy import Proxy
from ._refs import ObjectRef

if TYPE_CHECKING:
    from ._broker import ORB


def proxy(target: str | ObjectRef | Proxy, *, timeout: float | None = None, broker: ORB | None = None) -> Proxy:
    """A proxy for an object URI (``orb://host:port/id``), reference or proxy.

    ``timeout`` is how long each call waits for its reply (default: the
    broker's). No connection is made until the first call.
    """
    return (broker or default_broker()).proxy(target, timeout=timeout)


def _as_proxy(target: Any, broker: ORB | None) -> Proxy | None:
    if isinstance(target, Proxy):
        return target
    if isinstance(target, (str, ObjectRef)):
        return proxy(target, broker=broker)
    return None


def invoke(target: Any, name: str, /, *args: Any, **kwargs: Any) -> Any:
    """Call the method ``name`` of ``target`` with the given arguments.

    ``target`` is a proxy, a reference, a URI, or a local object (then the
    same exposure rules apply as for a remote call). One-way methods of a
    remote object are sent one-way and return None.
    """
    remote = _as_proxy(target, None)
    if remote is None:
        members = members_of(type(target))
        member = members.get(name)
        if member is None or member.is_property:
            raise AttributeError(f"{type(target).__qualname__} has no exposed method {name!r}")
        return getattr(target, name)(*args, **kwargs)
    method = remote._orb_interface().method(name)
    if method is not None and method.oneway:
        remote._orb_oneway(name, args, kwargs)
        return None
    return remote._orb_call(name, args, kwargs)


def describe(target: Any) -> Interface:
    """The interface of a remote or local object: type, docs, methods, signatures, properties."""
    remote = _as_proxy(target, None)
    if remote is not None:
        return remote._orb_interface()
    cls = target if isinstance(target, type) else type(target)
    return describe_class(cls)


def ref(target: Any, broker: ORB | None = None) -> ObjectRef:
    """The reference of a proxy, or of a local exposed object (exported on the fly)."""
    if isinstance(target, Proxy):
        return target._orb_ref
    return (broker or default_broker()).ref(target)


def resolve(name: str, *, timeout: float | None = None, naming: str | None = None) -> Proxy:
    """A proxy for the object bound to ``name`` in the naming service.

    The naming service is ``naming`` (``host:port`` or a URI), else the
    ``ORB_NAMING`` environment variable, else found on the LAN by mDNS.
    Raises ``orb.NameNotFound`` when the name is not bound.
    """
    from orb.naming import resolve as naming_resolve

    return naming_resolve(name, timeout=timeout, naming=naming)


__all__ = ["describe", "invoke", "proxy", "ref", "resolve"]
