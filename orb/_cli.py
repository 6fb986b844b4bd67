"""The ``orb`` command: argument parsing and dispatch to the subcommands.

The subcommands live in their own modules: :mod:`orb._repl` (``orb repl``)
and :mod:`orb._commands` (``ls``, ``resolve``, ``describe``, ``call``,
``ping``). Each subparser sets ``func``, which takes the parsed arguments
and returns the exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from orb.security import add_tls_arguments

from . import __version__

#: Call timeout of the one-shot commands, in seconds.
DEFAULT_TIMEOUT = 10.0

_EPILOG = """\
exit codes: 0 success; 1 the operation failed (name not bound, object gone,
access denied, the remote method raised); 2 bad command line; 3 the naming
service or object could not be reached (none found, connection refused,
timed out).
"""


def _connection_options(timeout: float | None) -> argparse.ArgumentParser:
    """Options every networked subcommand takes (a fresh parent parser each time)."""
    options = argparse.ArgumentParser(add_help=False)
    group = options.add_argument_group("connection")
    group.add_argument(
        "--naming", metavar="HOST:PORT",
        help="the naming service (an address, endpoint or URI); default $ORB_NAMING, else mDNS",
    )
    group.add_argument(
        "--mdns-interface", action="append", metavar="ADDRESS",
        help="local address to search for the naming service on, repeatable "
        "(default $ORB_MDNS_INTERFACES, else every interface)",
    )
    group.add_argument(
        "--domain", help="naming domain to look for with mDNS (default $ORB_NAMING_DOMAIN, else any)"
    )
    group.add_argument(
        "--mdns-timeout", type=float, default=3.0, metavar="SECONDS",
        help="how long to search with mDNS (default 3)",
    )
    group.add_argument(
        "--timeout", type=float, default=timeout, metavar="SECONDS",
        help="call timeout" + (f" (default {timeout:g})" if timeout else " (default: none)"),
    )
    add_tls_arguments(options)
    return options


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orb", description="orb: remote objects for Python", epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"orb {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    repl = commands.add_parser(
        "repl", parents=[_connection_options(None)],
        help="interactive Python REPL connected to the naming service",
        description="A Python REPL with helpers for remote objects: ls(prefix), resolve(name), "
        "describe(obj), proxy(uri), invoke(obj, name, ...), stats(); top-level await works.",
    )
    repl.add_argument(
        "--history", metavar="FILE",
        help="history file (default $ORB_REPL_HISTORY, else repl_history in orb's state directory)",
    )
    repl.add_argument(
        "--listen", action="append", metavar="ENDPOINT",
        help="also serve objects from the REPL on this endpoint, repeatable",
    )
    repl.set_defaults(func=_run_repl)

    ls = _one_shot(commands, "ls", "list bound names", "ls")
    ls.add_argument("prefix", nargs="?", default="", metavar="PREFIX",
                    help="a context such as apps/ (default: the root), or a name prefix")
    ls.add_argument("-l", "--long", action="store_true", help="show type, lease and metadata")
    ls.add_argument("-r", "--recursive", action="store_true", help="list every name below PREFIX")
    ls.add_argument("--pattern", metavar="GLOB", help="only names matching this glob")

    resolve = _one_shot(commands, "resolve", "print the URI of the object bound to NAME", "resolve")
    resolve.add_argument("name", metavar="NAME")

    describe = _one_shot(commands, "describe", "show the interface of a remote object", "describe")
    describe.add_argument("target", metavar="NAME|URI")

    call = _one_shot(commands, "call", "call a method and print its result", "call")
    call.add_argument("target", metavar="NAME|URI")
    call.add_argument("method", metavar="METHOD")
    call.add_argument(
        "args", nargs="*", metavar="ARG",
        help="Python literals (1, 'text', [1, 2], {'k': None}); NAME=LITERAL for keywords",
    )
    call.add_argument("--traceback", action="store_true",
                      help="print the remote traceback when the method raises")

    _one_shot(commands, "ping", "check that the naming service answers", "ping")
    from orb.security._cli import add_certs_command

    add_certs_command(commands)  # orb certs init-ca | issue-server | issue-client | show
    return parser


def _one_shot(
    commands: argparse._SubParsersAction, name: str, summary: str, function: str
) -> argparse.ArgumentParser:
    sub = commands.add_parser(
        name, parents=[_connection_options(DEFAULT_TIMEOUT)], help=summary, description=summary,
        epilog=_EPILOG,
    )
    sub.add_argument("--json", action="store_true", help="print the result as one line of JSON")
    sub.set_defaults(func=lambda args: _run_command(function, args))
    return sub


def _run_repl(args: argparse.Namespace) -> int:
    from . import _repl

    return _repl.main(args)


def _run_command(function: str, args: argparse.Namespace) -> int:
    from . import _commands

    return _commands.run(getattr(_commands, function), args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
