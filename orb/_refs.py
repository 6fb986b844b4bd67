"""Endpoints and object references, and their string forms.

An endpoint says where an ORB listens::

    tcp://127.0.0.1:7000      tcp://[::1]:7000      unix:///run/app.sock

An object reference names one exported object: the ORB that owns it, its
object id, the endpoints to reach that ORB and the interface (type) name.
Its string form is a URI with the first endpoint and the object id::

    orb://127.0.0.1:7000/6f1c...e2          (TCP)
    orb+unix://%2Frun%2Fapp.sock/6f1c...e2  (Unix socket, path percent-encoded)
"""

from __future__ import annotations

import ipaddress
import secrets
import urllib.parse

import attrs

#: URI schemes of object references, by endpoint scheme.
REF_SCHEMES = {"tcp": "orb", "unix": "orb+unix", "tls": "orbs"}
_ENDPOINT_SCHEMES = {v: k for k, v in REF_SCHEMES.items()}


def new_object_id() -> str:
    """A fresh, unguessable object id: 128 random bits as 32 hex digits."""
    return secrets.token_hex(16)


def new_orb_id() -> bytes:
    """A fresh 128-bit ORB id."""
    return secrets.token_bytes(16)


@attrs.frozen
class Endpoint:
    """Where an ORB listens: ``tcp://host:port``, ``tls://host:port`` or ``unix:///path``."""

    scheme: str
    host: str = ""
    port: int = 0
    path: str = ""

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """Parse an endpoint string; raises ValueError with the accepted forms."""
        if not isinstance(text, str):
            raise TypeError(f"an endpoint is a string such as 'tcp://127.0.0.1:0', not {text!r}")
        scheme, sep, rest = text.partition("://")
        if not sep:
            raise ValueError(_endpoint_help(text, "it has no scheme"))
        if scheme == "unix":
            if not rest.startswith("/") or len(rest) < 2:
                raise ValueError(_endpoint_help(text, "a unix endpoint needs an absolute path"))
            return cls("unix", path=rest)
        if scheme not in ("tcp", "tls"):
            raise ValueError(_endpoint_help(text, f"unknown scheme {scheme!r}"))
        host, port = _split_host_port(text, rest)
        return cls(scheme, host=host, port=port)

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        return f"{self.scheme}://{_bracket(self.host)}:{self.port}"

    @property
    def is_loopback(self) -> bool:
        """True for Unix sockets and loopback TCP addresses (localhost, 127/8, ::1)."""
        if self.scheme == "unix":
            return True
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False


@attrs.frozen
class ObjectRef:
    """A reference to one exported object; ``str(ref)`` is its URI.

    ``orb_id`` is empty when the reference was parsed from a URI (the URI
    does not carry it); ``endpoints`` is empty for an object of a
    client-only ORB, reachable only over a connection that ORB opened.
    """

    object_id: str
    orb_id: bytes = b""
    endpoints: tuple[str, ...] = ()
    interface: str = ""
    #: The owner collects the object when no client holds a lease on it.
    collectable: bool = attrs.field(default=False, eq=False)

    def __str__(self) -> str:
        if not self.endpoints:
            return f"orb://-/{self.object_id}"
        return uri_for(Endpoint.parse(self.endpoints[0]), self.object_id)

    @classmethod
    def from_uri(cls, uri: str) -> ObjectRef:
        """Parse ``orb://host:port/id``, ``orbs://host:port/id`` or ``orb+unix://path/id``."""
        if not isinstance(uri, str):
            raise TypeError(f"expected an object URI string, not {type(uri).__name__}")
        scheme, sep, rest = uri.partition("://")
        endpoint_scheme = _ENDPOINT_SCHEMES.get(scheme)
        if not sep or endpoint_scheme is None:
            raise ValueError(_uri_help(uri, "unknown scheme"))
        location, slash, object_id = rest.partition("/")
        if not slash or not object_id or "/" in object_id:
            raise ValueError(_uri_help(uri, "it has no object id"))
        if location == "-":
            raise ValueError(
                f"{uri!r} is an object of a client-only ORB: it has no address to connect to"
            )
        if endpoint_scheme == "unix":
            path = urllib.parse.unquote(location)
            endpoint = Endpoint.parse(f"unix://{path}")
        else:
            endpoint = Endpoint.parse(f"{endpoint_scheme}://{location}")
        return cls(object_id=object_id, endpoints=(str(endpoint),))


def uri_for(endpoint: Endpoint, object_id: str) -> str:
    """The URI of ``object_id`` reached through ``endpoint``."""
    scheme = REF_SCHEMES[endpoint.scheme]
    if endpoint.scheme == "unix":
        return f"{scheme}://{urllib.parse.quote(endpoint.path, safe='')}/{object_id}"
    return f"{scheme}://{_bracket(endpoint.host)}:{endpoint.port}/{object_id}"


def _split_host_port(text: str, rest: str) -> tuple[str, int]:
    if rest.startswith("["):
        host, bracket, tail = rest[1:].partition("]")
        if not bracket or not tail.startswith(":"):
            raise ValueError(_endpoint_help(text, "bad IPv6 address"))
        port_text = tail[1:]
    else:
        host, colon, port_text = rest.rpartition(":")
        if not colon:
            raise ValueError(_endpoint_help(text, "it has no port"))
        if ":" in host:
            raise ValueError(_endpoint_help(text, "an IPv6 address needs brackets, as in [::1]"))
    if not host:
        raise ValueError(_endpoint_help(text, "it has no host"))
    # Endpoints arrive from peers: only hosts that print back as they parsed.
    if not host.isprintable() or any(c in host for c in "[]/@ "):
        raise ValueError(_endpoint_help(text, f"bad host {host!r}"))
    if not (port_text.isascii() and port_text.isdigit()) or not 0 <= int(port_text) <= 65535:
        raise ValueError(_endpoint_help(text, f"bad port {port_text!r}"))
    return host, int(port_text)


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _endpoint_help(text: str, why: str) -> str:
    return (
        f"invalid endpoint {text!r}: {why}; use tcp://HOST:PORT (port 0 picks a free one), "
        "tls://HOST:PORT or unix:///ABSOLUTE/PATH"
    )


def _uri_help(uri: str, why: str) -> str:
    return (
        f"invalid object URI {uri!r}: {why}; expected orb://HOST:PORT/OBJECT_ID, "
        "orbs://HOST:PORT/OBJECT_ID or orb+unix://PERCENT_ENCODED_PATH/OBJECT_ID"
    )
