"""The bank demo's server: accounts as remote objects, guarded by client certificate identity.

``python server.py --tls-cert server.pem --tls-key server.key --tls-ca ca.pem
--require-client-cert``. It listens on a free loopback ``tls://`` port,
prints the bank's URI and ``ready``, logs every refused call (with the
caller's identity) to its standard output, and stops when its standard
input closes. The rules are in accounts.py.
"""

from __future__ import annotations

import argparse
import logging
import sys

from accounts import Account, Bank, authorize
from orb.security import add_tls_arguments, tls_from_args

import orb


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_tls_arguments(parser)
    tls = tls_from_args(parser.parse_args(argv))
    # Refusals are logged on "orb.security" with the caller's identity: show them.
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("[bank log] %(message)s"))
    logging.getLogger("orb.security").addHandler(handler)
    accounts = {"alice": Account("alice", 100), "bob": Account("bob", 50)}
    with orb.ORB(listen="tls://127.0.0.1:0", tls=tls, authorize=authorize) as broker:
        for account in accounts.values():
            broker.export(account)  # explicit exports: pinned for the life of the bank
        print(broker.export(Bank(accounts), object_id="bank"), flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # serve until the demo closes our standard input
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
