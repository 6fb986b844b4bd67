"""Interface descriptions: what ``orb.describe`` returns.

An :class:`Interface` is a plain value: the remote type's name and
docstring, its exposed methods (signature text, parameters with their
annotations as strings, docstring, one-way flag) and properties. On the
wire it is a msgpack map (docs/PROTOCOL.md, "Interface description"), so
an implementation in another language can read it.
"""

from __future__ import annotations

import inspect
from typing import Any

import attr
import attrs

from ._exposure import Member, members_of


@attrs.frozen(kw_only=True)
class Parameter:
    """One parameter of a remote method."""

    name: str
    kind: str  # inspect.Parameter kind name, e.g. "POSITIONAL_OR_KEYWORD"
    annotation: str | None = None
    default: str | None = None  # repr of the default value, None when required


@attrs.frozen(kw_only=True)
class Method:
    """One exposed method."""

    name: str
    signature: str
    parameters: tuple[Parameter, ...] = ()
    returns: str | None = None
    doc: str = ""
    oneway: bool = False


@attrs.frozen(kw_only=True)
class Property:
    """One exposed property."""

    name: str
    doc: str = ""
    writable: bool = False


@attrs.frozen(kw_only=True)
class Interface:
    """The exposed interface of a remote (or local) object."""

    type_name: str
    doc: str = ""
    methods: tuple[Method, ...] = ()
    properties: tuple[Property, ...] = ()

    @property
    def names(self) -> list[str]:
        """All exposed member names, sorted."""
        return sorted([m.name for m in self.methods] + [p.name for p in self.properties])

    def method(self, name: str) -> Method | None:
        """The method called ``name``, or None."""
        return next((m for m in self.methods if m.name == name), None)

    def property(self, name: str) -> Property | None:
        """The property called ``name``, or None."""
        return next((p for p in self.properties if p.name == name), None)

    def to_wire(self) -> dict[str, Any]:
        """The msgpack map form sent in reply to ``__orb_describe__``."""
        return attr.asdict(self, retain_collection_types=False)

    @classmethod
    def from_wire(cls, data: Any) -> Interface:
        """Rebuild from the map form; raises ValueError when it is malformed."""
        try:
            return cls(
                type_name=data["type_name"],
                doc=data.get("doc", ""),
                methods=tuple(
                    Method(
                        **{**m, "parameters": tuple(Parameter(**p) for p in m["parameters"])}
                    )
                    for m in data.get("methods", ())
                ),
                properties=tuple(Property(**p) for p in data.get("properties", ())),
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed interface description: {exc}") from None


def type_name_of(cls: type) -> str:
    """The interface name of a class: ``module.QualName``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def describe_class(cls: type, members: dict[str, Member] | None = None) -> Interface:
    """The interface of ``cls`` as seen through its exposed members."""
    members = members_of(cls) if members is None else members
    methods = []
    properties = []
    for name, member in sorted(members.items()):
        static = inspect.getattr_static(cls, name)
        if member.is_property:
            properties.append(
                Property(name=name, doc=inspect.getdoc(static) or "", writable=member.writable)
            )
            continue
        methods.append(_describe_method(cls, name, static, member))
    return Interface(
        type_name=type_name_of(cls),
        doc=inspect.getdoc(cls) or "",
        methods=tuple(methods),
        properties=tuple(properties),
    )


def _describe_method(cls: type, name: str, static: Any, member: Member) -> Method:
    func = getattr(cls, name)
    try:
        signature = inspect.signature(func)
    except (TypeError, ValueError):
        signature = inspect.Signature([inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY), *_ANY_ARGUMENTS])
    params = list(signature.parameters.values())
    if not isinstance(static, (staticmethod, classmethod)) and params:
        params = params[1:]  # drop self
    parameters = tuple(
            Parameter(
                name=p.name,
                kind=p.kind.name,
                annotation=_annotation_text(p.annotation),
                default=None if p.default is inspect.Parameter.empty else repr(p.default),
            )
            for p in params
        )
    returns = _annotation_text(signature.return_annotation)
    return Method(
        name=name,
        signature=str(signature_of(parameters, returns)),
        parameters=parameters,
        returns=returns,
        doc=inspect.getdoc(func) or "",
        oneway=member.oneway,
    )


class _Text(str):
    """Annotation or default text that prints as itself (no quotes) in a signature."""

    def __repr__(self) -> str:
        return str(self)


def signature_of(
    parameters: tuple[Parameter, ...], returns: str | None, *, self_name: str | None = None
) -> inspect.Signature:
    """An ``inspect.Signature`` built from described parameters, for ``help()``.

    ``self_name`` adds a leading positional parameter (for functions that
    are bound to a proxy as methods).
    """
    empty = inspect.Parameter.empty
    params = [inspect.Parameter(self_name, inspect.Parameter.POSITIONAL_ONLY)] if self_name else []
    try:
        for p in parameters:
            params.append(
                inspect.Parameter(
                    p.name,
                    _KINDS.get(p.kind, inspect.Parameter.POSITIONAL_OR_KEYWORD),
                    default=empty if p.default is None else _Text(p.default),
                    annotation=empty if p.annotation is None else _Text(p.annotation),
                )
            )
        return inspect.Signature(
            params, return_annotation=empty if returns is None else _Text(returns)
        )
    except (TypeError, ValueError):  # a description that Python cannot express
        return inspect.Signature(params[:1] + list(_ANY_ARGUMENTS))


_KINDS = {kind.name: kind for kind in type(inspect.Parameter.POSITIONAL_ONLY)}
_ANY_ARGUMENTS = (
    inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
    inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
)


def _annotation_text(annotation: Any) -> str | None:
    if annotation is inspect.Parameter.empty:
        return None
    if isinstance(annotation, str):
        return annotation
    return inspect.formatannotation(annotation)
