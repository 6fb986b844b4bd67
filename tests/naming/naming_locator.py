"""A client on another "host": find the naming service by mDNS, resolve a name, call it.

Usage: naming_locator.py --interface ADDRESS --domain DOMAIN NAME

mDNS is pinned to the local address ADDRESS. Prints one JSON line: the
naming service's address, and what the object answered (its name and the
process id of the server).
"""

from __future__ import annotations

import argparse
import json
import sys

import orb
from orb.naming import locate


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interface", required=True)
    parser.add_argument("--domain", required=True)
    parser.add_argument("name")
    options = parser.parse_args()
    address = locate(domain=options.domain, timeout=10, interfaces=[options.interface])
    with orb.ORB(timeout=10):
        found = orb.resolve(options.name, naming=address)
        answer = {"naming": address, "name": found.name(), "pid": found.pid()}
    sys.stdout.write(json.dumps(answer) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
