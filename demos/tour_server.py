"""The tour's server process: exports the tour's objects on loopback.

Run by demos/tour.py as ``tour_server.py [CERT_DIR]``. It listens on a
free loopback TCP port and, given a directory of certificates made by
``orb certs``, also on a ``tls://`` port that requires client
certificates. It binds each object as ``tour/<name>`` in the naming
service, prints one line per exported object (``<name> <uri>``), the
``orbs://`` URI of the inspector (``secure <uri>``) and then ``ready``,
and serves until its standard input closes; then it unbinds its names,
shuts the broker down and exits 0.

Try it by hand: ``python demos/tour_server.py`` and call the printed URIs
from another shell with ``orb.proxy(uri)``; press Ctrl-D to stop it.
"""

from __future__ import annotations

import os
import sys

from orb.security import TLSConfig
from tour_services import SERVICES

import orb


def main(argv: list[str]) -> int:
    listen, tls = ["tcp://127.0.0.1:0"], None
    if argv:
        certs = argv[0]
        listen.append("tls://127.0.0.1:0")
        tls = TLSConfig(cert=os.path.join(certs, "server.pem"), key=os.path.join(certs, "server.key"),
                        ca=os.path.join(certs, "ca.pem"), require_client_cert=True)
    with orb.ORB(listen=listen, tls=tls) as broker:
        for name, cls in SERVICES.items():
            # name= binds it in the naming service (found by mDNS) and keeps
            # renewing that binding's lease until the broker closes.
            ref = broker.export(cls(), name=f"tour/{name}")
            print(name, ref, flush=True)
            secure = [e for e in ref.endpoints if e.startswith("tls://")]
            if name == "inspector" and secure:
                only_tls = orb.ObjectRef(object_id=ref.object_id, orb_id=ref.orb_id,
                                         endpoints=tuple(secure), interface=ref.interface)
                print("secure", only_tls, flush=True)
        print("ready", flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
