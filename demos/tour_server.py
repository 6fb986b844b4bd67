"""The tour's server process: exports the tour's objects on loopback.

Run by demos/tour.py. It listens on a free loopback TCP port, binds each
object as ``tour/<name>`` in the naming service, prints one line per
exported object (``<name> <uri>``) and then ``ready``, and serves until its
standard input closes; then it unbinds its names, shuts the broker down and
exits 0.

Try it by hand: ``python demos/tour_server.py`` and call the printed URIs
from another shell with ``orb.proxy(uri)``; press Ctrl-D to stop it.
"""

from __future__ import annotations

import sys

import orb
from tour_services import SERVICES


def main() -> int:
    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        for name, cls in SERVICES.items():
            # name= binds it in the naming service (found by mDNS) and keeps
            # renewing that binding's lease until the broker closes.
            print(name, broker.export(cls(), name=f"tour/{name}"), flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
