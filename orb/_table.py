"""The export table: which objects this broker serves, under which ids.

An entry maps an unguessable object id to a servant: an object, or a class
with an instance policy (one shared instance, one per connection, one per
call, like Pyro5's instance modes). Explicit exports are pinned; objects
exported on the fly because they were passed by reference are not (the
distributed GC frees those).
"""

from __future__ import annotations

import collections
import threading
from typing import TYPE_CHECKING, Any

import attrs

from ._errors import ObjectNotFound
from ._exposure import Instance, Member, class_exposure, members_of
from ._interface import Interface, describe_class, type_name_of
from ._refs import new_object_id

#: How many unexported ids are remembered to explain a later ObjectNotFound.
GONE_REMEMBERED = 1024

if TYPE_CHECKING:
    from ._channel import Channel


@attrs.define(eq=False)
class Entry:
    """One exported servant."""

    object_id: str
    target: Any
    policy: Instance
    members: dict[str, Member]
    cls: type
    pinned: bool
    name: str | None = None
    _shared: Any = None
    _lock: threading.Lock = attrs.Factory(threading.Lock)

    @property
    def type_name(self) -> str:
        return type_name_of(self.cls)

    @property
    def is_class(self) -> bool:
        return isinstance(self.target, type)

    def instance_for(self, channel: Channel | None) -> Any:
        """The servant instance that serves a call arriving on ``channel``."""
        if not self.is_class:
            return self.target
        if self.policy is Instance.PER_CALL:
            return self.target()
        if self.policy is Instance.PER_CONNECTION and channel is not None:
            instance = channel.instances.get(self.object_id)
            if instance is None:
                instance = channel.instances.setdefault(self.object_id, self.target())
            return instance
        with self._lock:
            if self._shared is None:
                self._shared = self.target()
            return self._shared


class ObjectTable:
    """Exported servants by object id, and by identity for re-export."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Entry] = {}
        self._by_identity: dict[int, Entry] = {}
        self._members: dict[type, dict[str, Member]] = {}
        self._interfaces: dict[type, Interface] = {}
        self._gone: collections.OrderedDict[str, str] = collections.OrderedDict()

    def members(self, cls: type) -> dict[str, Member]:
        """The exposed members of ``cls`` (cached)."""
        members = self._members.get(cls)
        if members is None:
            members = self._members[cls] = members_of(cls)
        return members

    def interface(self, cls: type) -> Interface:
        """The interface description of ``cls`` (cached)."""
        interface = self._interfaces.get(cls)
        if interface is None:
            interface = self._interfaces[cls] = describe_class(cls, self.members(cls))
        return interface

    def add(
        self,
        target: Any,
        *,
        pinned: bool,
        object_id: str | None = None,
        policy: Instance | str | None = None,
        name: str | None = None,
    ) -> Entry:
        """Export ``target``; an already exported object keeps its entry."""
        cls = target if isinstance(target, type) else type(target)
        members = self.members(cls)
        if not members:
            raise TypeError(
                f"cannot export {cls.__qualname__}: nothing in it is exposed; decorate the "
                "class (or some methods) with @orb.expose"
            )
        if policy is None:
            exposure = class_exposure(cls)
            policy = exposure.instance if exposure else Instance.SINGLE
        with self._lock:
            entry = self._by_identity.get(id(target))
            if entry is not None:
                if object_id is not None and object_id != entry.object_id:
                    raise ValueError(
                        f"{cls.__qualname__} object is already exported as {entry.object_id!r}"
                    )
                entry.pinned = entry.pinned or pinned
                entry.name = name or entry.name
                return entry
            object_id = object_id or new_object_id()
            if object_id in self._by_id:
                raise ValueError(f"object id {object_id!r} is already in use")
            entry = Entry(object_id, target, Instance(policy), members, cls, pinned, name)
            self._by_id[object_id] = entry
            self._by_identity[id(target)] = entry
            return entry

    def get(self, object_id: str) -> Entry:
        """The entry for ``object_id``; raises ObjectNotFound."""
        entry = self._by_id.get(object_id)
        if entry is None:
            reason = self._gone.get(object_id)
            if reason is not None:
                raise ObjectNotFound(f"object {object_id!r} {reason}")
            raise ObjectNotFound(f"no object with id {object_id!r} is exported here")
        return entry

    def find(self, target: Any) -> Entry | None:
        """The entry of an exported object, or None."""
        return self._by_identity.get(id(target))

    def lookup(self, object_id: str) -> Entry | None:
        return self._by_id.get(object_id)

    def remove(self, object_id: str, *, reason: str = "was unexported") -> Entry:
        """Unexport; raises ObjectNotFound when ``object_id`` is not exported.

        ``reason`` is remembered (for the most recent ids) so that a later
        call to the id says why it is gone.
        """
        with self._lock:
            entry = self._by_id.pop(object_id, None)
            if entry is None:
                raise ObjectNotFound(f"no object with id {object_id!r} is exported here")
            self._by_identity.pop(id(entry.target), None)
            self._gone[object_id] = reason
            if len(self._gone) > GONE_REMEMBERED:
                self._gone.popitem(last=False)
            return entry

    def entries(self) -> list[Entry]:
        with self._lock:
            return list(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)
