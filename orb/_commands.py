"""The one-shot ``orb`` commands: ls, resolve, describe, call, ping.

Each prints its result on stdout (``--json``: one line of JSON) and returns
an exit code; an expected failure is one line on stderr (``orb: ...``) and
a non-zero code from :mod:`orb._cli_support`, never a traceback.
"""

from __future__ import annotations

import argparse
import ast
import keyword
import pprint
import sys
import time
from collections.abc import Callable
from typing import Any

import orb

from ._cli_support import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    NamingClient,
    failure,
    make_broker,
    naming_options,
    tls_config,
)
from ._render import entry_record, render_interface, render_listing, to_json, uri_of

Command = Callable[[argparse.Namespace, NamingClient], int]


def run(command: Command, args: argparse.Namespace) -> int:
    """Run one command with its own broker; expected failures become exit codes."""
    broker = None
    try:
        tls = tls_config(args)
        broker = make_broker(naming=args.naming, timeout=args.timeout, tls=tls)
        return command(args, NamingClient(broker, naming_options(args)))
    except KeyboardInterrupt:
        print("orb: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        known = failure(exc)
        if known is None:
            raise
        code, message = known
        remote_tb = getattr(exc, "remote_traceback", None)
        if getattr(args, "traceback", False) and remote_tb:
            print(remote_tb.rstrip(), file=sys.stderr)
        print(f"orb: {message}", file=sys.stderr)
        return code
    finally:
        if broker is not None:
            broker.close()


def ls(args: argparse.Namespace, naming: NamingClient) -> int:
    """List bound names under a prefix."""
    prefix = args.prefix or ""
    if prefix == "" or prefix.endswith("/"):
        from orb.naming._names import validate_context

        validate_context(prefix)
    entries = naming.list(prefix, args.pattern, args.recursive)
    if args.json:
        print(to_json([entry_record(e) for e in entries]))
    else:
        text = render_listing(entries, long=args.long)
        if text:
            print(text)
    return EXIT_OK


def resolve(args: argparse.Namespace, naming: NamingClient) -> int:
    """Print the URI of the object bound to a name."""
    target = naming.resolve(args.name)
    uri = uri_of(target)
    if args.json:
        print(to_json({"name": args.name, "uri": uri, "interface": target._orb_ref.interface}))
    else:
        print(uri)
    return EXIT_OK


def describe(args: argparse.Namespace, naming: NamingClient) -> int:
    """Print the interface of a named object or URI."""
    target = naming.target(args.target)
    interface = orb.describe(target)
    uri = uri_of(target)
    if args.json:
        print(to_json({"uri": uri, **interface.to_wire()}))
    else:
        print(render_interface(interface, where=uri))
    return EXIT_OK


def call(args: argparse.Namespace, naming: NamingClient) -> int:
    """Call a method with literal arguments and print the result."""
    positional, keywords = parse_arguments(args.args)
    target = naming.target(args.target)
    interface = orb.describe(target)
    if interface.property(args.method) is not None and not (positional or keywords):
        result = getattr(target, args.method)
    elif interface.method(args.method) is None:
        members = ", ".join(interface.names) or "none"
        raise CommandError(
            f"remote {interface.type_name} has no method {args.method!r} (it has: {members})",
            EXIT_FAILED,
        )
    else:
        result = orb.invoke(target, args.method, *positional, **keywords)
    if args.json:
        print(to_json(result))
    elif result is not None:
        print(pprint.pformat(result))
    return EXIT_OK


def ping(args: argparse.Namespace, naming: NamingClient) -> int:
    """Check that the naming service answers, and show what it is."""
    service = naming.service()
    started = time.perf_counter()
    service.ping()
    rtt_ms = (time.perf_counter() - started) * 1000
    info = service.info()
    location = naming.location
    assert location is not None
    if args.json:
        print(to_json({
            "address": location.address, "source": location.source, "uri": uri_of(service),
            "rtt_ms": round(rtt_ms, 3), **info,
        }))
        return EXIT_OK
    print(f"naming service at {location.address} (from {location.source}) is alive: {rtt_ms:.1f} ms")
    print(
        f"{info.get('service', 'naming service')}: store {info.get('store', '?')}, "
        f"{info.get('bindings', '?')} binding(s), lease {info.get('lease', 0):g}s, "
        f"up {_duration(info.get('uptime', 0))}"
    )
    return EXIT_OK


def parse_arguments(texts: list[str]) -> tuple[list[Any], dict[str, Any]]:
    """Command-line call arguments: Python literals, ``name=literal`` for keywords."""
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for number, text in enumerate(texts, 1):
        name, eq, rest = text.partition("=")
        if eq and name.isidentifier() and not keyword.iskeyword(name):
            keywords[name] = _literal(rest, number, text)
            continue
        if keywords:
            raise CommandError(
                f"argument {number} ({text!r}) is positional but follows a keyword argument",
                EXIT_USAGE,
            )
        positional.append(_literal(text, number, text))
    return positional, keywords


def _literal(text: str, number: int, whole: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise CommandError(
            f"argument {number} ({whole!r}) is not a Python literal; quote strings, "
            f"e.g. \"'{text}'\"",
            EXIT_USAGE,
        ) from None


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    seconds = int(seconds)
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
