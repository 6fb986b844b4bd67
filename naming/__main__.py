"""``orb-naming``: the naming service daemon (also ``python -m orb.naming``)."""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sys
from collections.abc import Sequence
from types import FrameType

import orb
from orb._refs import Endpoint

from ._mdns import DOMAIN_ENV, SERVICE_TYPE, Advertiser, interfaces_from_env
from ._service import DEFAULT_LEASE, MAX_LEASE, MIN_LEASE, NAMING_OBJECT_ID, NamingService
from ._store import MemoryStore, SQLiteStore, Store, default_store_path

DEFAULT_LISTEN = "tcp://127.0.0.1:7700"


class _StopSignals:
    """SIGINT and SIGTERM, turned into a pipe that becomes readable.

    The handler only writes a byte. It runs on the main thread wherever that
    thread happens to be, possibly holding a lock: ``threading.Event.set``
    from a handler deadlocks when the signal lands inside ``Event.wait``.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._previous = {signum: signal.signal(signum, self._handle) for signum in self.SIGNALS}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        try:
            os.write(self._write, b"!")
        except BlockingIOError:  # already signalled
            pass

    def wait(self, timeout: float) -> bool:
        """True once a stop signal arrived; False after ``timeout`` seconds without one."""
        return bool(select.select([self._read], [], [], timeout)[0])

    def close(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        os.close(self._read)
        os.close(self._write)


def advertised_endpoint(endpoints: Sequence[str]) -> Endpoint | None:
    """The endpoint to advertise: the first TLS one, else the first TCP one."""
    network = [e for e in map(Endpoint.parse, endpoints) if e.scheme in ("tls", "tcp")]
    return min(network, key=lambda e: e.scheme != "tls") if network else None


def mdns_interfaces(endpoint: Endpoint, chosen: Sequence[str] | None) -> list[str] | None:
    """Where to advertise: the chosen addresses; else, for a loopback endpoint,
    loopback only (other hosts cannot reach it); else every interface (None)."""
    if chosen:
        return list(chosen)
    if endpoint.is_loopback:
        return ["127.0.0.1"]
    return None


def _advertise(broker: orb.ORB, args: argparse.Namespace) -> Advertiser | None:
    endpoint = advertised_endpoint(broker.endpoints)
    if endpoint is None:
        print("mDNS advertisement skipped: no TCP or TLS endpoint to advertise", flush=True)
        return None
    interfaces = mdns_interfaces(endpoint, args.mdns_interface or interfaces_from_env())
    advertiser = Advertiser(
        host=endpoint.host, port=endpoint.port, orb_id=broker.orb_id, domain=args.domain,
        interfaces=interfaces, tls=endpoint.scheme == "tls",
    )
    where = ", ".join(interfaces) if interfaces else "all interfaces"
    print(
        f"advertising {SERVICE_TYPE} as {advertiser.name} ({endpoint}) on {where}; "
        f"domain {args.domain or '(none)'}",
        flush=True,
    )
    return advertiser


def _lease(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not MIN_LEASE <= seconds <= MAX_LEASE:
        raise argparse.ArgumentTypeError(
            f"lease must be between {MIN_LEASE:g} and {MAX_LEASE:g} seconds, not {text}"
        )
    return seconds


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="orb-naming",
        description="Run the orb naming service and advertise it on the LAN with mDNS.",
    )
    parser.add_argument(
        "--listen", action="append", metavar="ENDPOINT",
        help=f"endpoint to listen on, repeatable (default {DEFAULT_LISTEN})",
    )
    store = parser.add_mutually_exclusive_group()
    store.add_argument(
        "--store", metavar="PATH",
        help=f"SQLite file holding the bindings (default {default_store_path()})",
    )
    store.add_argument("--memory", action="store_true", help="keep bindings in memory only")
    parser.add_argument(
        "--lease", type=_lease, default=DEFAULT_LEASE, metavar="SECONDS",
        help=f"lease granted to bindings (default {DEFAULT_LEASE:g})",
    )
    parser.add_argument(
        "--domain", default=os.environ.get(DOMAIN_ENV) or None,
        help="naming domain advertised in mDNS (default: $ORB_NAMING_DOMAIN, else none)",
    )
    parser.add_argument(
        "--admin", action="append", metavar="IDENTITY",
        help="certificate identity (common name, SAN or fingerprint) allowed to make permanent "
        "bindings from another host, repeatable; callers on this host always may",
    )
    parser.add_argument("--no-mdns", action="store_true", help="do not advertise on mDNS")
    parser.add_argument(
        "--mdns-interface", action="append", metavar="ADDRESS",
        help="local address to advertise on, repeatable (default: $ORB_MDNS_INTERFACES, "
        "else every interface)",
    )
    parser.add_argument(
        "--insecure", action="store_true",
        help="allow plaintext listening on a non-loopback address",
    )
    from orb.security import add_tls_arguments

    add_tls_arguments(parser)
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging level (default INFO)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        store: Store = MemoryStore() if args.memory else SQLiteStore(args.store or default_store_path())
        service = NamingService(store, lease=args.lease, admins=args.admin or ())
    except (OSError, ValueError) as exc:
        print(f"orb-naming: cannot open the store: {exc}", file=sys.stderr)
        return 2
    try:
        from orb.security import tls_from_args

        broker = orb.ORB(
            listen=args.listen or [DEFAULT_LISTEN], insecure=args.insecure or None,
            tls=tls_from_args(args),
        )
    except (ValueError, orb.OrbError) as exc:
        service.close()
        print(f"orb-naming: {exc}", file=sys.stderr)
        return 2
    stop = _StopSignals()  # from here on a signal stops the daemon cleanly
    advertiser = None
    try:
        ref = broker.export(service, object_id=NAMING_OBJECT_ID)
        for endpoint in broker.endpoints:
            print(f"orb-naming listening on {endpoint}", flush=True)
        print(f"naming service object: {ref}", flush=True)
        print(f"store: {store.description}; lease {args.lease:g}s", flush=True)
        if args.no_mdns:
            print("mDNS advertisement disabled", flush=True)
        else:
            try:
                advertiser = _advertise(broker, args)
            except Exception as exc:  # noqa: BLE001 - zeroconf and socket errors alike
                print(f"orb-naming: cannot advertise on mDNS: {exc}", file=sys.stderr)
                return 2
        print("ready", flush=True)
        sweep_every = max(args.lease / 2, 0.1)
        while not stop.wait(sweep_every):
            service.sweep()
    finally:
        if advertiser is not None:
            advertiser.close()
        broker.close()
        service.close()
        stop.close()
    print("orb-naming stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
