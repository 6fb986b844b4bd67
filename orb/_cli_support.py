"""What the ``orb`` subcommands share: finding the naming service, making the broker, errors.

Where the naming service is, in order: ``--naming``, the ``ORB_NAMING``
environment variable, else mDNS discovery (pinned to ``--mdns-interface``
or ``ORB_MDNS_INTERFACES`` when given). Expected failures map to exit codes
and one-line messages (:func:`failure`); anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations

import os
from typing import Any

import attrs

import orb
from orb._errors import (
    AccessDenied,
    CommunicationError,
    NameNotFound,
    ObjectNotFound,
    OrbError,
)
from orb._proxy import Proxy

#: Exit codes of the ``orb`` command.
EXIT_OK = 0
EXIT_FAILED = 1  # the operation failed: not bound, gone, refused, or the remote method raised
EXIT_USAGE = 2  # a bad command line (argparse uses 2 as well)
EXIT_UNREACHABLE = 3  # no naming service found, connection refused, timed out


class CommandError(Exception):
    """An expected failure of a command: printed as one line, exits with ``code``."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen(kw_only=True)
class NamingOptions:
    """How to find the naming service (from the command line)."""

    naming: str | None = None
    interfaces: tuple[str, ...] | None = None
    domain: str | None = None
    mdns_timeout: float = 3.0


@attrs.frozen(kw_only=True)
class NamingLocation:
    """Where the naming service is, and how that was decided."""

    address: str  # host:port, an endpoint or the naming object's URI
    source: str  # "--naming", "ORB_NAMING" or "mDNS"


def naming_options(args: Any) -> NamingOptions:
    """The naming options of parsed ``orb`` arguments."""
    return NamingOptions(
        naming=args.naming,
        interfaces=tuple(args.mdns_interface) if args.mdns_interface else None,
        domain=args.domain,
        mdns_timeout=args.mdns_timeout,
    )


def locate_naming(options: NamingOptions) -> NamingLocation:
    """The naming service's address; raises CommunicationError when mDNS finds none."""
    if options.naming:
        return NamingLocation(address=options.naming, source="--naming")
    from orb.naming import DOMAIN_ENV, NAMING_ENV, locate
    from orb.naming._mdns import interfaces_from_env

    from_env = os.environ.get(NAMING_ENV, "").strip()
    if from_env:
        return NamingLocation(address=from_env, source=NAMING_ENV)

    interfaces = list(options.interfaces) if options.interfaces else interfaces_from_env()
    domain = options.domain or os.environ.get(DOMAIN_ENV, "").strip() or None
    try:
        address = locate(domain=domain, timeout=options.mdns_timeout, interfaces=interfaces)
    except CommunicationError:
        where = ", ".join(interfaces) if interfaces else "every interface"
        scope = f" for domain {domain!r}" if domain else ""
        raise CommunicationError(
            f"no naming service found by mDNS{scope} on {where} within "
            f"{options.mdns_timeout:g}s; start one with orb-naming, or give --naming HOST:PORT "
            f"or {NAMING_ENV}"
        ) from None
    return NamingLocation(address=address, source="mDNS")


class NamingClient:
    """The naming service one command talks to: located on first use, then kept.

    A failed discovery is not remembered, so a REPL user can start the
    naming service later and simply try again.
    """

    def __init__(
        self, broker: orb.ORB, options: NamingOptions, location: NamingLocation | None = None
    ) -> None:
        self.broker = broker
        self.options = options
        self.location = location

    def service(self) -> Proxy:
        """A proxy for the naming service object."""
        from orb.naming import naming_proxy

        if self.location is None:
            self.location = locate_naming(self.options)
        try:
            return naming_proxy(self.location.address, broker=self.broker)
        except ValueError as exc:
            raise ValueError(f"bad naming service address {self.location.address!r}: {exc}") from None

    def list(
        self, prefix: str = "", pattern: str | None = None, recursive: bool = False
    ) -> list[dict[str, Any]]:
        """Entries under ``prefix`` (see ``NamingService.list``)."""
        return self.service().list(prefix, pattern, None, recursive)

    def resolve(self, name: str) -> Proxy:
        """The object bound to ``name``; raises orb.NameNotFound."""
        from orb.naming import validate

        validate(name)
        return self.service().resolve(name)

    def target(self, name_or_uri: str) -> Proxy:
        """A proxy for an object URI (``orb://...``) or a bound name."""
        if "://" in name_or_uri:
            return self.broker.proxy(name_or_uri)
        return self.resolve(name_or_uri)


def tls_config(args: Any) -> Any:
    """The ``orb.security.TLSConfig`` of the TLS options (or ``ORB_TLS_*``), or None."""
    from orb.security import tls_from_args

    try:
        return tls_from_args(args)
    except (OSError, ValueError) as exc:
        raise CommandError(f"bad TLS options: {exc}", EXIT_USAGE) from None


def make_broker(
    *,
    naming: str | None,
    timeout: float | None,
    tls: Any = None,
    listen: list[str] | None = None,
) -> orb.ORB:
    """The broker a command uses (client-only unless ``listen`` is given)."""
    options: dict[str, Any] = {"naming": naming, "timeout": timeout}
    if tls is not None:
        options["tls"] = tls
    try:
        return orb.ORB(listen=listen or None, **options)
    except (ValueError, OrbError, OSError) as exc:
        raise CommandError(str(exc), EXIT_USAGE if isinstance(exc, ValueError) else EXIT_FAILED) from None


def failure(exc: BaseException) -> tuple[int, str] | None:
    """The exit code and one-line message of an expected failure, else None."""
    if isinstance(exc, CommandError):
        return exc.code, str(exc)
    if isinstance(exc, CommunicationError):  # includes orb.TimeoutError
        return EXIT_UNREACHABLE, one_line(str(exc))
    if isinstance(exc, AccessDenied):
        return EXIT_FAILED, f"access denied: {one_line(str(exc))}"
    if isinstance(exc, (NameNotFound, ObjectNotFound)):
        return EXIT_FAILED, one_line(str(exc))
    if getattr(exc, "remote_traceback", None) is not None:
        remote_type = getattr(exc, "remote_type", None) or type(exc).__name__
        message = getattr(exc, "remote_message", None)
        text = str(exc) if message is None else message
        return EXIT_FAILED, one_line(f"remote {remote_type}: {text}" if text else f"remote {remote_type}")
    if isinstance(exc, OrbError):
        return EXIT_FAILED, one_line(str(exc))
    if isinstance(exc, ValueError):  # a bad name, URI or address given on the command line
        return EXIT_USAGE, one_line(str(exc))
    return None


def one_line(text: str) -> str:
    """``text`` folded onto one line."""
    return " ".join(text.split())
