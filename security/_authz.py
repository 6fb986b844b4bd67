"""Authorization: who may call which object and method.

Two mechanisms, both checked by the broker before a servant is touched
(before a per-call or per-connection instance is even made):

* **Allow-lists**, the shortcut: ``@orb.security.allow("alice", "bob")`` on
  an exposed method admits only those identities to that method; on a
  class (or applied to one object, ``allow("ops")(obj)``) it covers every
  method without an allow-list of its own. A method's list replaces the
  object's, it does not add to it. ``"*"`` admits any verified identity.
  Peers without a certificate identity are never on an allow-list.
* **A policy**: ``orb.ORB(authorize=policy)`` where ``policy(peer, obj,
  method) -> bool`` is asked about every call (after the allow-lists
  passed). ``obj`` is the exported object (or class), ``method`` the
  method name; reserved names such as ``__orb_describe__`` (interface) and
  ``__orb_getattr__``/``__orb_setattr__`` (properties) are asked about too,
  and so are calls to the broker's own services (the naming service and
  the distributed GC objects), so a policy that refuses by default should
  let those through.

A refusal raises ``orb.AccessDenied`` in the caller and is logged on
``orb.security`` with the peer's identity and address. A policy that
raises counts as a refusal (and is logged with its traceback).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from orb._context import Peer, _current
from orb._errors import AccessDenied

log = logging.getLogger("orb.security")

T = TypeVar("T")

#: Attribute that carries an allow-list (a frozenset of identity patterns).
ALLOW_ATTR = "__orb_allow__"

#: ``policy(peer, obj, method) -> bool``: True lets the call through.
Policy = Callable[[Peer, Any, str], bool]

# Whether allow() has attached an allow-list to anything in this process:
# until it has, a broker without a policy has nothing to look up per call.
_allow_lists_exist = False


def allow(*who: str) -> Callable[[T], T]:
    """Admit only the given identities to a method, class or object.

    Each pattern is matched by :meth:`orb.security.Identity.matches`: a
    common name, subject, SAN, fingerprint, or ``"*"`` for any verified
    identity. Use it as a decorator on exposed methods and classes, or
    call it on an object before exporting it: ``allow("ops")(obj)``.
    """
    if not who or not all(isinstance(w, str) and w for w in who):
        raise ValueError("allow() needs one or more identity names (or '*')")
    patterns = frozenset(who)

    def mark(target: T) -> T:
        inner: Any = target
        if isinstance(target, property):
            raise TypeError(
                "allow() does not apply to a property; put the allow-list on the class"
            )
        if isinstance(target, (staticmethod, classmethod)):
            inner = target.__func__
        global _allow_lists_exist
        try:
            setattr(inner, ALLOW_ATTR, patterns)
            _allow_lists_exist = True
        except (AttributeError, TypeError):
            raise TypeError(
                f"cannot attach an allow-list to {type(target).__name__} object "
                "(it has no __dict__); put it on its class"
            ) from None
        return target

    return mark


def allow_list(target: Any, method: str | None = None) -> frozenset[str] | None:
    """The allow-list in force for ``method`` of ``target`` (None: no list)."""
    if method is not None:
        member = getattr(target if isinstance(target, type) else type(target), method, None)
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        patterns = getattr(member, ALLOW_ATTR, None)
        if patterns is not None:
            return patterns
    return getattr(target, ALLOW_ATTR, None)


def describe_peer(peer: Peer | None) -> str:
    """Who a peer is, for logs and refusals: identity name, else 'unauthenticated'."""
    if peer is None:
        return "a local caller"
    identity = peer.identity
    if identity is not None:
        name = getattr(identity, "name", identity)
        fingerprint = getattr(identity, "fingerprint", "")
        short = f", sha256 {fingerprint[:16]}" if fingerprint else ""
        return f"{name!s} ({peer.address}{short})"
    return f"unauthenticated peer {peer.address} (ORB {peer.orb_id.hex()[:8]})"


class Guard:
    """The check the dispatcher runs before every call (see the module docstring)."""

    def __init__(self, policy: Policy | None = None) -> None:
        if policy is not None and not callable(policy):
            raise TypeError(f"authorize must be a callable(peer, obj, method) -> bool, not {policy!r}")
        self.policy = policy

    def __call__(self, entry: Any, method: str) -> None:
        """Raise AccessDenied unless the current caller may call ``method`` on ``entry``."""
        if self.policy is None and not _allow_lists_exist:
            return
        target = entry.target
        # Only exposed names are looked up: no descriptor runs for other names.
        member = getattr(entry.cls, method, None) if method in entry.members else None
        patterns = getattr(member, ALLOW_ATTR, None)
        if patterns is None:
            patterns = getattr(target, ALLOW_ATTR, None)
        policy = self.policy
        if patterns is None and policy is None:
            return
        context = _current.get()
        peer = context.peer if context is not None else None
        if patterns is not None and not _admits(patterns, peer):
            self._refuse(peer, entry, method, "not on the allow-list")
        if policy is not None:
            try:
                allowed = policy(peer, target, method)  # type: ignore[arg-type]
            except Exception:
                log.exception("authorization policy failed for %s.%s; refusing",
                              entry.type_name, method)
                allowed = False
            if not allowed:
                self._refuse(peer, entry, method, "refused by the authorization policy")

    @staticmethod
    def _refuse(peer: Peer | None, entry: Any, method: str, why: str) -> None:
        who = describe_peer(peer)
        # repr() of the peer-chosen strings: a method name cannot forge log lines.
        log.warning("access denied: %s called %s.%r on object %r: %s",
                    who, entry.type_name, method, entry.object_id, why)
        if peer is not None and peer.identity is None and why.startswith("not on"):
            why += " (this connection has no client certificate identity)"
        raise AccessDenied(f"access denied: {who} may not call {entry.type_name}.{method}: {why}")


def _admits(patterns: frozenset[str], peer: Peer | None) -> bool:
    if peer is None:
        return True  # a call made in-process, not through a connection
    identity = peer.identity
    if identity is None:
        return False
    matches = getattr(identity, "matches", None)
    if matches is None:
        return "*" in patterns or str(identity) in patterns
    return any(matches(p) for p in patterns)
