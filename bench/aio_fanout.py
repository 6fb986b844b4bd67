"""asyncio fan-out: 1,000 concurrent awaited calls against 1,000 sequential ones.

Runs an orb server in its own process (loopback TCP, or a Unix socket with
``--unix``) and, from one asyncio task in this process, times rounds of

* ``sequential``: ``for i in range(N): await proxy.echo(i)``
* ``concurrent``: N calls started together in one task group and awaited,

alternating the two so that machine noise hits both alike, and prints the
median of each and their ratio. The target is a ratio of at least 5.
The same is measured for an ``async def`` servant method (``aecho``), and
for blocking code: sequential calls against ``orb.future`` calls started
together and pipelined on one connection.

    .venv/bin/python bench/aio_fanout.py [--calls 1000] [--rounds 7] [--unix]

This is a benchmark, not a test: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orb
import orb.aio


@orb.expose
class Echo:
    """Returns its argument."""

    def echo(self, value: Any) -> Any:
        return value

    async def aecho(self, value: Any) -> Any:
        return value


def serve(listen: str) -> None:
    """Server process: print the object's URI, serve until stdin closes."""
    with orb.ORB(listen=listen) as broker:
        print(broker.export(Echo()), flush=True)
        sys.stdin.read()


async def gather_all(calls: list[Awaitable[Any]]) -> list[Any]:
    if sys.version_info >= (3, 11):
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]  # type: ignore[arg-type]
        return [task.result() for task in tasks]
    return await asyncio.gather(*calls)


async def time_async(method: Callable[[int], Awaitable[Any]], calls: int, rounds: int) -> tuple[float, float]:
    """Median seconds of a sequential and of a concurrent round of ``calls`` calls."""
    sequential, concurrent = [], []
    await gather_all([method(i) for i in range(calls)])  # warm up
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(calls):
            assert await method(i) == i
        sequential.append(time.perf_counter() - start)
        start = time.perf_counter()
        results = await gather_all([method(i) for i in range(calls)])
        concurrent.append(time.perf_counter() - start)
        assert results == list(range(calls))
    return statistics.median(sequential), statistics.median(concurrent)


def time_futures(method: Callable[[int], Any], calls: int, rounds: int) -> tuple[float, float]:
    """The same for blocking code: sequential calls against pipelined orb.future calls."""
    start_call = orb.future(method)
    sequential, pipelined = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(calls):
            assert method(i) == i
        sequential.append(time.perf_counter() - start)
        start = time.perf_counter()
        futures = [start_call(i) for i in range(calls)]
        results = [f.result() for f in futures]
        pipelined.append(time.perf_counter() - start)
        assert results == list(range(calls))
    return statistics.median(sequential), statistics.median(pipelined)


def report(name: str, calls: int, sequential: float, concurrent: float) -> None:
    print(
        f"{name:<28} sequential {sequential * 1e3:8.1f} ms ({sequential / calls * 1e6:6.1f} us/call)"
        f"   concurrent {concurrent * 1e3:8.1f} ms ({concurrent / calls * 1e6:6.1f} us/call)"
        f"   ratio {sequential / concurrent:5.2f}x"
    )


async def run_async(uri: str, calls: int, rounds: int) -> None:
    async with orb.aio.ORB() as broker:
        proxy = await orb.aio.proxy(uri, broker=broker)
        for name in ("echo", "aecho"):
            sequential, concurrent = await time_async(getattr(proxy, name), calls, rounds)
            report(f"orb.aio {name} (servant {'async' if name == 'aecho' else 'plain'})",
                   calls, sequential, concurrent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per round (1000)")
    parser.add_argument("--rounds", type=int, default=7, help="rounds of each kind (7)")
    parser.add_argument("--unix", action="store_true", help="use a Unix socket instead of TCP")
    parser.add_argument("--serve", metavar="ENDPOINT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    with tempfile.TemporaryDirectory() as folder:
        listen = f"unix://{folder}/echo.sock" if args.unix else "tcp://127.0.0.1:0"
        server = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--serve", listen],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        try:
            uri = server.stdout.readline().strip()  # type: ignore[union-attr]
            if not uri:
                raise SystemExit("the server process did not start")
            print(f"{args.calls} calls per round, median of {args.rounds} rounds, "
                  f"server {'unix' if args.unix else 'tcp'} in its own process, "
                  f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
            asyncio.run(run_async(uri, args.calls, args.rounds))
            with orb.ORB() as broker:
                echo = broker.proxy(uri).echo
                sequential, pipelined = time_futures(echo, args.calls, args.rounds)
                report("orb.future echo (blocking)", args.calls, sequential, pipelined)
        finally:
            server.stdin.close()  # type: ignore[union-attr]
            server.wait(10)


if __name__ == "__main__":
    main()
