"""A server process for the security tests: exports an Echo over mutual TLS.

Usage: tls_peer.py LISTEN CERT KEY CA [NAME]. With NAME, the object is bound
in the naming service (found as orb.naming says: ORB_NAMING, else mDNS).
Prints one JSON line ({"uri", "orb_id"}), then serves until stdin closes.
"""

from __future__ import annotations

import json
import sys

from orb.security import TLSConfig

import orb


@orb.expose
class Echo:
    def echo(self, value: object) -> object:
        return value

    def caller(self) -> str | None:
        identity = orb.current().peer.identity
        return identity.name if identity else None


def main() -> None:
    listen, cert, key, ca, *name = sys.argv[1:]
    tls = TLSConfig(cert=cert, key=key, ca=ca, require_client_cert=True)
    with orb.ORB(listen=listen, tls=tls) as broker:
        ref = broker.export(Echo(), name=name[0] if name else None)
        print(json.dumps({"uri": str(ref), "orb_id": broker.orb_id.hex()}), flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
