"""The dgc demo's client: opens sessions at the library and holds their proxies.

``python client.py NAME LIBRARY_URI COUNT`` opens COUNT sessions, prints
this broker's ORB id, one line per session (label and URI) and ``ready``.
Then it obeys lines on its standard input:

* ``drop N``: let go of N session proxies (the last reference to each
  goes, so this broker tells the server it no longer holds them);
* ``read``: read every session still held;
* end of input: close the broker (it cleans its remaining leases) and exit.

It has no listener: the server's DGC only hears from it when it calls.
"""

from __future__ import annotations

import sys

import orb


def main(argv: list[str]) -> int:
    name, uri, count = argv[0], argv[1], int(argv[2])
    with orb.ORB(timeout=10.0) as broker:
        library = orb.proxy(uri)
        sessions = [library.open(name) for _ in range(count)]
        print(f"[{name}] ORB id {broker.orb_id.hex()}", flush=True)
        for session in sessions:
            print(f"[{name}] holds {session.read()} at {orb.ref(session)}", flush=True)
        print("ready", flush=True)
        for line in sys.stdin:
            command, _, arg = line.strip().partition(" ")
            if command == "drop":
                del sessions[: int(arg)]  # the proxies go: a finalizer queues the clean
                print(f"[{name}] dropped {arg} proxies; {len(sessions)} left", flush=True)
            elif command == "read":
                for session in sessions:
                    print(f"[{name}] {session.read()}", flush=True)
            print("done", flush=True)
    print(f"[{name}] closed its broker", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
