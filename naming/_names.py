"""Names: validation and the hierarchy of contexts.

A name is a path of parts separated by ``/`` (``apps/chat/lobby``). Every
prefix ending in ``/`` is a context (``apps/``, ``apps/chat/``); the empty
string is the root context.
"""

from __future__ import annotations

import fnmatch

#: Longest accepted name, in characters.
MAX_NAME_LENGTH = 512
#: Longest accepted part of a name, in characters.
MAX_PART_LENGTH = 128


class InvalidName(ValueError):
    """A name that breaks the naming rules."""


def validate(name: object) -> str:
    """Return ``name`` if it is a valid binding name, else raise InvalidName saying why."""
    if not isinstance(name, str):
        raise InvalidName(f"a name is a string such as 'apps/chat/lobby', not {type(name).__name__}")
    if not name:
        raise InvalidName("a name may not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidName(f"name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}")
    if name.startswith("/") or name.endswith("/"):
        raise InvalidName(f"name {name!r} may not start or end with '/'")
    for part in name.split("/"):
        if not part:
            raise InvalidName(f"name {name!r} has an empty part ('//')")
        if len(part) > MAX_PART_LENGTH:
            raise InvalidName(f"part {part[:20]!r}... of a name exceeds {MAX_PART_LENGTH} characters")
        if part in (".", ".."):
            raise InvalidName(f"name {name!r} may not contain '.' or '..' parts")
        if not part.isprintable() or any(c.isspace() and c != " " for c in part):
            raise InvalidName(f"name {name!r} contains control characters")
    return name


def validate_context(prefix: object) -> str:
    """Return a context prefix ('' or ending with '/') or raise InvalidName."""
    if not isinstance(prefix, str):
        raise InvalidName(f"a prefix is a string such as 'apps/', not {type(prefix).__name__}")
    if prefix == "":
        return prefix
    body = prefix[:-1] if prefix.endswith("/") else prefix
    if body.endswith("/"):
        raise InvalidName(f"context {prefix!r} has an empty part ('//')")
    validate(body)
    return prefix


def children(names: list[str], context: str) -> tuple[list[str], list[str]]:
    """Direct children of ``context``: (binding names, sub-context names ending in '/')."""
    bound: list[str] = []
    contexts: set[str] = set()
    for name in names:
        if not name.startswith(context):
            continue
        rest = name[len(context) :]
        head, slash, _ = rest.partition("/")
        if slash:
            contexts.add(context + head + "/")
        else:
            bound.append(name)
    return sorted(bound), sorted(contexts)


def matches(name: str, pattern: str | None) -> bool:
    """Glob match of a whole name (``*`` also crosses '/')."""
    return pattern is None or fnmatch.fnmatchcase(name, pattern)
