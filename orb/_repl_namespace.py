"""The names the REPL starts with: ``ls``, ``resolve``, ``describe``, ``proxy``, ``invoke``, ``stats``, ``help``.

The helpers accept names wherever a target is expected: a string with
``://`` is an object URI, any other string a name in the naming service.
"""

from __future__ import annotations

import builtins
import pydoc
from typing import Any

import orb

from ._cli_support import NamingClient
from ._interface import Interface
from ._proxy import Proxy
from ._render import render_interface, render_listing


class Listing(list):  # type: ignore[type-arg]
    """What ``ls()`` returns: the names (a list of str) shown as a table.

    ``entries`` keeps the naming service's full entries (reference,
    metadata, lease).
    """

    def __init__(self, entries: list[dict[str, Any]]) -> None:
        super().__init__(entry["name"] for entry in entries)
        self.entries = entries

    def __repr__(self) -> str:
        return render_listing(self.entries, long=True) or "(no names)"


class RemoteHelp:
    """``help`` in the REPL: the remote interface for proxies, Python's help for the rest."""

    def __repr__(self) -> str:
        return (
            "Type help(proxy) for a remote object's interface, help(proxy.method) for one "
            "method, help(object) for help about a local object, or help() for Python's help."
        )

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and not kwargs:
            target = args[0]
            if isinstance(target, Proxy):
                page = render_interface(orb.describe(target), where=str(target._orb_ref))
                pydoc.pager(page + "\n")
                return None
            if isinstance(target, Interface):
                pydoc.pager(render_interface(target) + "\n")
                return None
        python_help = getattr(builtins, "help", None) or pydoc.help
        return python_help(*args, **kwargs)


def build_namespace(broker: orb.ORB, naming: NamingClient) -> dict[str, Any]:
    """The REPL's global namespace, helpers bound to ``broker`` and ``naming``."""

    def target_of(target: Any) -> Any:
        return naming.target(target) if isinstance(target, str) else target

    def ls(prefix: str = "", pattern: str | None = None, recursive: bool = False) -> Listing:
        """Names bound under ``prefix`` ('' is the root, 'apps/' a context).

        ``pattern`` keeps names matching a glob; ``recursive`` lists every
        name below the prefix. Returns a list of names shown as a table.
        """
        return Listing(naming.list(prefix, pattern, recursive))

    def resolve(name: str) -> Proxy:
        """A proxy for the object bound to ``name`` in the naming service."""
        return naming.resolve(name)

    def describe(target: Any) -> Interface:
        """The interface of a proxy, object URI, bound name or local object."""
        return orb.describe(target_of(target))

    def proxy(uri: str, timeout: float | None = None) -> Proxy:
        """A proxy for an object URI (``orb://host:port/id``); ``timeout`` per call in seconds."""
        return broker.proxy(uri, timeout=timeout)

    def invoke(target: Any, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the method ``name`` of a proxy, URI or bound name with the given arguments."""
        return orb.invoke(target_of(target), name, *args, **kwargs)

    def stats() -> dict[str, Any]:
        """This REPL's broker: objects, connections, workers; and the naming service address."""
        result = broker.stats()
        location = naming.location
        result["naming"] = location.address if location else None
        return result

    return {
        "__name__": "__main__",
        "__doc__": None,
        "__builtins__": builtins,
        "orb": orb,
        "broker": broker,
        "ls": ls,
        "resolve": resolve,
        "describe": describe,
        "proxy": proxy,
        "invoke": invoke,
        "stats": stats,
        "help": RemoteHelp(),
    }


#: The helpers named in the banner, in order.
HELPERS = ("ls(prefix)", "resolve(name)", "describe(obj)", "proxy(uri)", "invoke(obj, name, ...)",
           "stats()", "help(obj)")
