"""How orb's cost grows with connected clients.

``python -m bench.scaling`` starts an orb echo server (over TCP, in its own
process), connects one active client, then adds idle clients until 1, 10,
100 and 1,000 clients are connected. Each client is its own client-only
``orb.ORB`` (a broker keeps one connection per peer, so separate clients
need separate brokers); idle ones live in a few holder processes, made
their first call and then stay connected. At each level it measures:

* the active client's sequential calls/s and median latency (does
  throughput hold when most connections are idle?),
* the server's resident memory and thread count (orb runs one reader
  thread per connection), hence the memory per idle connection,
* every client busy at once: total calls/s with all N calling.

``python -m bench.scaling hold ADDRESS COUNT`` is the holder process.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from typing import Any

from .processes import Process, Server


def _proc_status(pid: int) -> dict[str, int]:
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "Threads"):
                out[key] = int(value.split()[0])
    return out


# -- the holder process -------------------------------------------------------


def hold(address: str, count: int) -> None:
    """Connect ``count`` clients, report, then obey ``busy`` commands until stdin closes."""
    import orb

    brokers = [orb.ORB() for _ in range(count)]
    echoes = [broker.proxy(address).echo for broker in brokers]
    for index, echo in enumerate(echoes):
        if echo(index) != index:
            raise AssertionError("wrong echo")
    print(json.dumps({"ready": True, **_proc_status(os.getpid())}), flush=True)
    for line in sys.stdin:
        duration = json.loads(line)["busy"]
        print(json.dumps(_busy(echoes, duration)), flush=True)
    for broker in brokers:
        broker.close()


def _busy(echoes: list[Any], duration: float) -> dict[str, float]:
    counts = [0] * len(echoes)
    start = time.perf_counter()
    end = start + duration

    def work(index: int) -> None:
        echo = echoes[index]
        count = 0
        while time.perf_counter() < end:
            echo(index)
            count += 1
        counts[index] = count

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(echoes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {"calls": sum(counts), "elapsed": time.perf_counter() - start}


# -- the measurement ------------------------------------------------------------


def _sequential(echo: Any, duration: float) -> tuple[float, float]:
    """calls/s and median µs of one client calling in a loop."""
    latencies = []
    clock = time.perf_counter_ns
    start = now = clock()
    end = start + int(duration * 1e9)
    while now < end:
        echo(1)
        after = clock()
        latencies.append(after - now)
        now = after
    return len(latencies) / ((now - start) / 1e9), statistics.median(latencies) / 1000


def measure(levels: list[int], duration: float, holders: int) -> list[dict[str, float]]:
    """One row per level of connected clients."""
    import orb

    rows = []
    with tempfile.TemporaryDirectory(prefix="orb-scaling-") as directory:
        server = Server("orb_tcp", directory)
        processes: list[Process] = []
        try:
            with orb.ORB() as broker:
                echo = broker.proxy(server.address).echo
                for _ in range(200):
                    echo(1)
                idle = 0
                before = _proc_status(server.pid)
                for level in levels:
                    # Spread the new idle clients over up to `holders` new processes.
                    new = level - 1 - idle
                    while new > 0:
                        share = max(1, -(-new // holders))
                        count = min(share, new)
                        processes.append(Process("bench.scaling", "hold", server.address,
                                                 str(count)))
                        processes[-1].read(timeout=120)
                        idle += count
                        new -= count
                    time.sleep(0.5)  # let the server's new reader threads settle
                    status = _proc_status(server.pid)
                    calls, median = _sequential(echo, duration)
                    for process in processes:
                        process.write({"busy": duration})
                    mine = _busy([echo], duration)
                    busy = [p.read(timeout=duration + 120) for p in processes]
                    total = mine["calls"] / mine["elapsed"] + sum(
                        b["calls"] / b["elapsed"] for b in busy
                    )
                    grown = status["VmRSS"] - before["VmRSS"]
                    rows.append({
                        "clients": level,
                        "seq calls/s": calls,
                        "seq median µs": median,
                        "all busy calls/s": total,
                        "server RSS MB": status["VmRSS"] / 1024,
                        "server threads": status["Threads"],
                        "KB per idle connection": grown / idle if idle else 0.0,
                    })
        finally:
            for process in processes:
                process.stop(timeout=30)
            server.stop()
    return rows


def table(rows: list[dict[str, float]]) -> str:
    """The rows as a Markdown table."""
    header = list(rows[0])
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
    for row in rows:
        cells = []
        for key in header:
            value = row[key]
            cells.append(f"{value:,.0f}" if value >= 100 or key == "clients" else f"{value:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hold"]:
        hold(argv[1], int(argv[2]))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,10,100,1000",
                        help="connected clients at each step (default 1,10,100,1000)")
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per measurement")
    parser.add_argument("--holders", type=int, default=4,
                        help="processes added per step to hold idle clients (default 4)")
    parser.add_argument("--json", metavar="FILE", help="also write the rows here")
    args = parser.parse_args(argv)
    levels = sorted(int(level) for level in args.levels.split(","))
    rows = measure(levels, args.duration, args.holders)
    print(table(rows))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
