"""Text for people and JSON for scripts: how the ``orb`` command shows things.

Used by the one-shot commands and the REPL alike, so an interface or a
naming listing looks the same in both.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import json
import textwrap
import uuid
from collections.abc import Iterable
from typing import Any

import attrs

from ._interface import Interface
from ._proxy import Proxy


def render_interface(interface: Interface, where: str | None = None) -> str:
    """An interface as a help page: type, docs, methods with signatures, properties."""
    short = interface.type_name.rpartition(".")[2]
    lines = [f"remote {short} ({interface.type_name})"]
    if where:
        lines.append(f"at {where}")
    if interface.doc:
        lines += ["", textwrap.indent(interface.doc, "    ")]
    if interface.methods:
        lines += ["", "Methods:"]
        for method in interface.methods:
            flag = "  [oneway]" if method.oneway else ""
            lines.append(f"    {method.name}{method.signature}{flag}")
            if method.doc:
                lines.append(textwrap.indent(method.doc, " " * 8))
    if interface.properties:
        lines += ["", "Properties:"]
        for prop in interface.properties:
            access = "read/write" if prop.writable else "read-only"
            lines.append(f"    {prop.name}  ({access})")
            if prop.doc:
                lines.append(textwrap.indent(prop.doc, " " * 8))
    return "\n".join(lines)


def uri_of(value: Any) -> str | None:
    """The URI of a proxy's object, or None for anything else."""
    if isinstance(value, Proxy):
        return str(value._orb_ref)
    return None


def interface_name_of(value: Any) -> str:
    """The remote type name a proxy's reference carries ('' when unknown)."""
    if isinstance(value, Proxy):
        return value._orb_ref.interface or ""
    return ""


def entry_record(entry: dict[str, Any]) -> dict[str, Any]:
    """A naming-service listing entry as plain JSON-able data."""
    if entry.get("context"):
        return {"name": entry["name"], "context": True}
    target = entry.get("ref")
    return {
        "name": entry["name"],
        "context": False,
        "uri": uri_of(target),
        "interface": interface_name_of(target),
        "metadata": entry.get("metadata") or {},
        "permanent": bool(entry.get("permanent")),
        "expires_in": entry.get("expires_in"),
    }


def render_listing(entries: Iterable[dict[str, Any]], *, long: bool = False) -> str:
    """Naming entries one a line; ``long`` adds type, lease and metadata columns."""
    records = [entry_record(e) for e in entries]
    if not long:
        return "\n".join(r["name"] for r in records)
    bound = [r for r in records if not r["context"]]
    name_width = max((len(r["name"]) for r in bound), default=0)
    type_width = max((len(r["interface"] or "?") for r in bound), default=0)
    lines = []
    for r in records:
        if r["context"]:
            lines.append(r["name"])
            continue
        lease = "permanent" if r["permanent"] else _lease_text(r["expires_in"])
        columns = [r["name"].ljust(name_width), (r["interface"] or "?").ljust(type_width), lease]
        if r["metadata"]:
            columns.append(json.dumps(r["metadata"], default=jsonable, sort_keys=True))
        lines.append("  ".join(columns).rstrip())
    return "\n".join(lines)


def _lease_text(expires_in: Any) -> str:
    if not isinstance(expires_in, (int, float)):
        return "lease ?"
    return f"lease {expires_in:.0f}s"


def jsonable(value: Any) -> Any:
    """``json.dumps(default=...)``: the JSON form of values msgpack carries but JSON lacks."""
    if isinstance(value, Proxy):
        return str(value._orb_ref)
    if isinstance(value, (set, frozenset)):
        items = list(value)
        try:
            return sorted(items)
        except TypeError:
            return items
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, complex):
        return [value.real, value.imag]
    if attrs.has(type(value)):
        return attrs.asdict(value, recurse=False)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return repr(value)


def to_json(value: Any) -> str:
    """``value`` as one line of JSON (see :func:`jsonable` for the conversions).

    Map keys JSON cannot have (tuples, say) become their ``repr``.
    """
    return json.dumps(_plain(value), default=jsonable, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k if isinstance(k, (str, int, float, bool)) or k is None else repr(k): _plain(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
