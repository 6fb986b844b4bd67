"""Tab completion in the REPL: local names, names in the naming service, remote members.

:meth:`Completer.complete` takes the text before the cursor and returns
:class:`Candidate` values; it knows nothing of the line editor. What it
completes, by the shape of the text:

* inside the first string argument of ``resolve(``, ``ls(``, ``describe(``
  or ``invoke(``: names from the naming service, one context at a time
  (``resolve("apps/<TAB>`` lists what is bound under ``apps/``);
* inside the second string argument of ``invoke(target, "``: the target's
  method names;
* after ``a.b.``: the members of that object, the remote members (with
  their signatures) when it is a proxy;
* a bare word: keywords, the REPL's names and builtins.

Completion never runs user code beyond attribute lookups along a dotted
path, never reads the member being completed, and gives up quietly (no
candidates) on any error, with remote calls bounded by a short timeout.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from typing import Any

import attrs

from ._cli_support import NamingClient
from ._proxy import Proxy, call_timeout

#: Helpers whose first argument is a name in the naming service.
_NAME_TAKERS = ("resolve", "ls", "describe", "invoke")

_NAME_ARGUMENT = re.compile(
    r"(?<![\w.])(?:[A-Za-z_]\w*\.)*(?P<function>" + "|".join(_NAME_TAKERS) + r")"
    r"\(\s*(?P<quote>['\"])(?P<partial>[^'\"\\]*)$"
)
_METHOD_ARGUMENT = re.compile(
    r"(?<![\w.])(?:[A-Za-z_]\w*\.)*invoke\(\s*"
    r"(?P<target>[A-Za-z_][\w.]*|'[^'\\]*'|\"[^\"\\]*\")\s*,\s*"
    r"(?P<quote>['\"])(?P<partial>\w*)$"
)
_ATTRIBUTE = re.compile(
    r"(?<![\w.)\]}'\"])(?P<path>[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*)\.(?P<partial>\w*)$"
)
_WORD = re.compile(r"(?<![\w.)\]}'\"])(?P<partial>[A-Za-z_]\w*)$")


@attrs.frozen
class Candidate:
    """One completion: ``text`` replaces the ``length`` characters before the cursor."""

    text: str
    length: int
    display: str
    meta: str = ""


class Completer:
    """Completes REPL input against ``namespace`` and the naming service."""

    def __init__(
        self, namespace: dict[str, Any], naming: NamingClient, *, timeout: float = 2.0
    ) -> None:
        self.namespace = namespace
        self.naming = naming
        self.timeout = timeout

    def complete(self, text: str) -> list[Candidate]:
        """Candidates for the end of ``text`` (the input before the cursor)."""
        try:
            with call_timeout(self.timeout):
                return self._complete(text)
        except Exception:  # noqa: BLE001 - completion must never disturb the session
            return []

    def _complete(self, text: str) -> list[Candidate]:
        quote = open_quote(text)
        if quote is not None:
            match = _METHOD_ARGUMENT.search(text)
            if match:
                return self._methods(match)
            match = _NAME_ARGUMENT.search(text)
            if match:
                return self._names(match["partial"], match["quote"])
            return []
        match = _ATTRIBUTE.search(text)
        if match:
            return self._members(self._lookup(match["path"]), match["partial"])
        match = _WORD.search(text)
        if match:
            return self._words(match["partial"])
        return []

    # -- the naming service -------------------------------------------------

    def _names(self, partial: str, quote: str) -> list[Candidate]:
        context = partial[: partial.rfind("/") + 1]
        candidates = []
        for entry in self.naming.list(context):
            name = entry["name"]
            if not name.startswith(partial):
                continue
            if entry.get("context"):
                candidates.append(Candidate(name, len(partial), name[len(context):], "context"))
            else:
                kind = _interface_of(entry.get("ref")).rpartition(".")[2]
                candidates.append(Candidate(name + quote, len(partial), name[len(context):], kind))
        return candidates

    def _methods(self, match: re.Match[str]) -> list[Candidate]:
        target_text, partial, quote = match["target"], match["partial"], match["quote"]
        if target_text[0] in "'\"":
            target = self.naming.target(ast.literal_eval(target_text))
        else:
            target = self._lookup(target_text)
        return [
            attrs.evolve(c, text=c.text + quote)
            for c in self._members(target, partial)
            if c.meta != "property"
        ]

    # -- objects ---------------------------------------------------------------

    def _lookup(self, path: str) -> Any:
        first, *rest = path.split(".")
        if first in self.namespace:
            value = self.namespace[first]
        else:
            value = getattr(builtins, first)
        for part in rest:
            value = getattr(value, part)
        return value

    def _members(self, value: Any, partial: str) -> list[Candidate]:
        if isinstance(value, Proxy):
            return self._remote_members(value, partial)
        try:
            names = dir(value)
        except Exception:  # noqa: BLE001 - a broken __dir__
            return []
        return [
            Candidate(name, len(partial), name)
            for name in sorted(set(names))
            if name.startswith(partial) and _visible(name, partial)
        ]

    def _remote_members(self, proxy: Proxy, partial: str) -> list[Candidate]:
        interface = proxy._orb_interface()
        candidates = [
            Candidate(m.name, len(partial), m.name, m.signature + ("  oneway" if m.oneway else ""))
            for m in interface.methods
        ]
        candidates += [
            Candidate(p.name, len(partial), p.name, "property") for p in interface.properties
        ]
        return sorted(
            (c for c in candidates if c.text.startswith(partial) and _visible(c.text, partial)),
            key=lambda c: c.text,
        )

    def _words(self, partial: str) -> list[Candidate]:
        names = set(keyword.kwlist) | set(self.namespace) | set(dir(builtins))
        return [
            Candidate(name, len(partial), name)
            for name in sorted(names)
            if name.startswith(partial) and _visible(name, partial)
        ]


def open_quote(text: str) -> str | None:
    """The quote of the string literal left open at the end of ``text``, or None."""
    quote: str | None = None
    i = 0
    while i < len(text):
        char = text[i]
        if quote is None:
            if char == "#":
                newline = text.find("\n", i)
                if newline < 0:
                    return None
                i = newline
            elif char in "'\"":
                quote = char * 3 if text.startswith(char * 3, i) else char
                i += len(quote) - 1
        elif char == "\\":
            i += 1
        elif text.startswith(quote, i):
            i += len(quote) - 1
            quote = None
        elif char == "\n" and len(quote) == 1:
            quote = None
        i += 1
    return quote


def _visible(name: str, partial: str) -> bool:
    return not name.startswith("_") or partial.startswith("_")


def _interface_of(value: Any) -> str:
    if isinstance(value, Proxy):
        return value._orb_ref.interface or ""
    return ""
