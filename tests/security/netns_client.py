"""The client "host" of the two-namespace test.

Usage: netns_client.py URI CERT KEY CA OWN_ADDRESS. Calls the object at URI
over mutual TLS, then tries without a certificate and tries to listen in
plaintext on OWN_ADDRESS; prints one JSON line with what happened.
"""

from __future__ import annotations

import json
import sys

from orb.security import TLSConfig

import orb


def main() -> None:
    uri, cert, key, ca, own = sys.argv[1:]
    report: dict[str, object] = {}
    with orb.ORB(tls=TLSConfig(cert=cert, key=key, ca=ca)) as broker:
        echo = broker.proxy(uri, timeout=10)
        report["echo"] = echo.echo([1, "two", 3.0])
        report["caller"] = echo.caller()
        report["peer"] = broker.stats()["connections"][0]["peer"]
    with orb.ORB(tls=TLSConfig(ca=ca)) as anonymous:
        try:
            anonymous.proxy(uri, timeout=10).echo(1)
        except orb.OrbError as exc:
            report["anonymous"] = f"{type(exc).__name__}: {exc}"
    try:
        orb.ORB(listen=f"tcp://{own}:0").close()
    except ValueError as exc:
        report["plaintext"] = str(exc)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
