"""A client process of the ``clients`` scenario.

``python -m bench.workers SYSTEM ADDRESS THREADS`` starts THREADS threads,
each opening its own client (Pyro5 proxies belong to the thread that made
them) and making a first call, then prints ``{"ready": true}``. On a line
``{"duration": seconds}`` from its standard input every thread calls the
echo server for that long; it prints the calls made and the seconds taken
(or ``{"error": ...}``).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from typing import Any

from .systems import Client, system


def main(argv: list[str]) -> None:
    key, address, threads = argv[0], argv[1], int(argv[2])
    chosen = system(key)
    counts = [0] * threads
    errors: list[str] = []
    connected = threading.Barrier(threads + 1)
    go = threading.Event()
    window = [0.0]
    clients: list[Client] = []

    def work(index: int) -> None:
        count = 0
        try:
            client = chosen.client(address)
            clients.append(client)
            echo = client.echo
            if echo(index) != index:
                raise AssertionError("wrong echo")
            connected.wait()
            go.wait()
            end = window[0]
            while time.perf_counter() < end:
                if echo(index) != index:
                    raise AssertionError("wrong echo")
                count += 1
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            connected.abort()
        counts[index] = count

    workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
    for worker in workers:
        worker.start()
    result: dict[str, Any]
    try:
        connected.wait()
    except threading.BrokenBarrierError:
        pass
    if errors:
        result = {"error": errors[0]}
    else:
        print(json.dumps({"ready": True}), flush=True)
        line = sys.stdin.readline()
        if not line:
            return
        start = time.perf_counter()
        window[0] = start + json.loads(line)["duration"]
        go.set()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - start
        result = {"error": errors[0]} if errors else {"calls": sum(counts), "elapsed": elapsed}
    print(json.dumps(result), flush=True)
    for client in clients:
        with contextlib.suppress(Exception):
            client.close()
    chosen.close()


if __name__ == "__main__":
    main(sys.argv[1:])
