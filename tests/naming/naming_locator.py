"""A client on another "host": finds the naming service by mDNS, resolves a name, calls it.

Usage:
  naming_locator.py --interface ADDRESS --domain DOMAIN NAME...
  naming_locator.py --naming HOST:PORT --wait-gone SECONDS NAME

The first form pins mDNS to the local address ADDRESS and prints one JSON
line: the naming service's address and what each object answered (its name
and its server's process id). The second asks the naming service at
HOST:PORT until NAME is no longer bound and prints one JSON line with the
seconds that took (exit 1 if it is still bound after SECONDS).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import orb
from orb.naming import locate


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--interface")
    parser.add_argument("--domain")
    parser.add_argument("--naming")
    parser.add_argument("--wait-gone", type=float)
    parser.add_argument("names", nargs="+")
    options = parser.parse_args()
    with orb.ORB(timeout=10):
        if options.wait_gone is not None:
            return wait_gone(options.naming, options.names[0], options.wait_gone)
        address = locate(domain=options.domain, timeout=10, interfaces=[options.interface])
        answers = []
        for name in options.names:
            found = orb.resolve(name, naming=address)
            answers.append({"name": found.name(), "pid": found.pid()})
        say({"naming": address, "answers": answers})
    return 0


def wait_gone(naming: str, name: str, timeout: float) -> int:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            orb.resolve(name, naming=naming)
        except orb.NameNotFound:
            say({"gone_after": time.monotonic() - started})
            return 0
        time.sleep(0.05)  # polling another host's naming service
    say({"still_bound_after": timeout})
    return 1


def say(answer: dict) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
