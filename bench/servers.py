"""Echo servers, one per system, each run in its own process.

``python -m bench.servers SYSTEM DIRECTORY`` starts the server of SYSTEM
on loopback (or a Unix socket in DIRECTORY), prints one JSON line with
the address clients use, and serves until its standard input closes, so
it never outlives the harness that started it.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable
from typing import Any


# What each server needs kept alive until the process exits.
_KEEP: list[Any] = []


#: Incoming connections an orb server admits (above its defaults, for the scaling runs).
MAX_CONNECTIONS = 100_000


def _orb(listen: str) -> str:
    import attrs

    import orb

    @orb.expose
    class Echo:
        def echo(self, value: Any) -> Any:
            return value

    limits = orb.Limits()
    wanted = {"max_connections": MAX_CONNECTIONS, "max_connections_per_address": MAX_CONNECTIONS}
    names = {field.name for field in attrs.fields(orb.Limits)}
    limits = attrs.evolve(limits, **{k: v for k, v in wanted.items() if k in names})
    broker = orb.ORB(listen=listen, limits=limits)
    _KEEP.append(broker)
    return str(broker.export(Echo(), object_id="echo"))


def orb_tcp(directory: str) -> str:
    return _orb("tcp://127.0.0.1:0")


def orb_unix(directory: str) -> str:
    return _orb(f"unix://{os.path.join(directory, 'orb.sock')}")


def pyro5(directory: str) -> str:
    import Pyro5.api
    import serpent

    @Pyro5.api.expose
    class Echo:
        def echo(self, value: Any) -> Any:
            # Pyro5's default serializer (serpent) delivers bytes as a
            # base64 dict; a servant that wants the bytes converts it.
            if type(value) is dict:
                value = serpent.tobytes(value)
            return value

    daemon = Pyro5.api.Daemon(host="127.0.0.1", port=0)
    uri = daemon.register(Echo(), objectId="echo")
    _KEEP.append(daemon)
    threading.Thread(target=daemon.requestLoop, name="pyro5-daemon", daemon=True).start()
    return str(uri)


def rpyc(directory: str) -> str:
    import rpyc as rpyc_module
    from rpyc.utils.server import ThreadedServer

    class EchoService(rpyc_module.Service):
        def exposed_echo(self, value: Any) -> Any:
            return value

    server = ThreadedServer(
        EchoService, hostname="127.0.0.1", port=0,
        protocol_config={"sync_request_timeout": 120},
    )
    _KEEP.append(server)
    threading.Thread(target=server.start, name="rpyc-server", daemon=True).start()
    return f"127.0.0.1:{server.port}"


def floor(directory: str) -> str:
    from bench.floor import serve

    listener = serve("127.0.0.1", 0)
    _KEEP.append(listener)
    host, port = listener.getsockname()[:2]
    return f"{host}:{port}"


SERVERS: dict[str, Callable[[str], str]] = {
    "orb_tcp": orb_tcp,
    "orb_unix": orb_unix,
    "pyro5": pyro5,
    "rpyc": rpyc,
    "floor": floor,
}


def main(argv: list[str]) -> None:
    system, directory = argv
    address = SERVERS[system](directory)
    print(json.dumps({"address": address, "pid": os.getpid()}), flush=True)
    sys.stdin.buffer.read()  # until the harness closes our stdin (or dies)
    os._exit(0)  # server threads are daemons; skip their orderly shutdown


if __name__ == "__main__":
    main(sys.argv[1:])
