"""The benchmark scenarios, each bounded in time.

A scenario is a function ``(system, address, settings) -> {metric: value}``
run against one system's echo server. Every call's result is checked
against what was sent. ``METRICS`` lists the rows of the report: which
scenario produced them, their unit, and whether more is better.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from .processes import Process
from .systems import Client, NotAvailable, System


@attrs.frozen
class Settings:
    """How long and how hard each scenario runs."""

    #: Seconds each measurement runs (each payload size is one measurement).
    duration: float = 2.0
    #: Threads of the threads_* scenarios.
    threads: int = 8
    #: Processes x threads of the clients scenario.
    processes: int = 4
    threads_per_process: int = 4
    #: Calls of asyncio_fanout, concurrent and sequential.
    fanout: int = 1000
    #: Payload sizes in bytes.
    payloads: tuple[int, ...] = (1024, 1024 * 1024, 10 * 1024 * 1024)


@attrs.frozen
class Metric:
    """One row of the report."""

    scenario: str
    name: str
    unit: str
    higher_is_better: bool = True

    @property
    def key(self) -> str:
        return f"{self.scenario} {self.name}"


class WrongResult(AssertionError):
    """A call returned something other than what was sent."""


def _check(result: Any, expected: Any) -> None:
    if result != expected:
        raise WrongResult(f"echo returned {str(result)[:60]!r}, expected {str(expected)[:60]!r}")


def _warm(echo: Callable[[Any], Any], value: Any, seconds: float) -> None:
    """Make a few calls first: connections, caches and interfaces get set up."""
    end = time.perf_counter() + seconds
    _check(echo(value), value)
    while time.perf_counter() < end:
        _check(echo(value), value)


def _size_name(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size // (1024 * 1024)} MB"
    return f"{size // 1024} KB"


# -- seq_small -------------------------------------------------------------


def seq_small(system: System, address: str, settings: Settings) -> dict[str, float]:
    """One client, one thread: echo a small int as fast as it goes."""
    client = system.client(address)
    try:
        echo = client.echo
        _warm(echo, 1, min(0.3, settings.duration / 5))
        latencies: list[int] = []
        record = latencies.append
        clock = time.perf_counter_ns
        start = now = clock()
        end = start + int(settings.duration * 1e9)
        while now < end:
            result = echo(1)
            after = clock()
            record(after - now)
            now = after
            if result != 1:
                _check(result, 1)
    finally:
        client.close()
    latencies.sort()
    return {
        "calls/s": len(latencies) / ((now - start) / 1e9),
        "median": latencies[len(latencies) // 2] / 1000,
        "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000,
    }


# -- threads ---------------------------------------------------------------


def _threads(clients: list[Client], settings: Settings) -> float:
    """Run one thread per client until the deadline; total calls per second."""
    counts = [0] * len(clients)
    failures: list[BaseException] = []
    window = [0.0, 0.0]  # start, end: set once every thread is ready

    def set_window() -> None:
        window[0] = time.perf_counter()
        window[1] = window[0] + settings.duration

    ready = threading.Barrier(len(clients), action=set_window)

    def work(index: int, client: Client) -> None:
        try:
            echo = client.echo
            _warm(echo, index, 0.0)
            ready.wait()
            end = window[1]
            clock = time.perf_counter
            count = 0
            while clock() < end:
                result = echo(index)
                if result != index:
                    _check(result, index)
                count += 1
            counts[index] = count
        except BaseException as exc:
            failures.append(exc)
            ready.abort()

    threads = [threading.Thread(target=work, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - window[0]
    if failures:
        raise failures[0]
    return sum(counts) / elapsed


def threads_one_proxy(system: System, address: str, settings: Settings) -> dict[str, float]:
    """``threads`` threads share one proxy (one connection)."""
    client = system.shared_client(address)
    try:
        return {"calls/s": _threads([client] * settings.threads, settings)}
    finally:
        client.close()


def threads_own_proxy(system: System, address: str, settings: Settings) -> dict[str, float]:
    """``threads`` threads, each calling through its own proxy."""
    # Pyro5 proxies belong to the thread that made them; making each in its
    # own thread is what a Pyro5 user does, so clients are made lazily there.
    clients = [_LazyClient(system, address) for _ in range(settings.threads)]
    try:
        return {"calls/s": _threads(clients, settings)}  # type: ignore[arg-type]
    finally:
        for client in clients:
            client.close()


class _LazyClient:
    """A client opened on first use, by the thread that uses it."""

    def __init__(self, system: System, address: str) -> None:
        self._system = system
        self._address = address
        self._client: Client | None = None

    @property
    def echo(self) -> Callable[[Any], Any]:
        if self._client is None:
            self._client = self._system.client(self._address)
        return self._client.echo

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


# -- clients (processes) ---------------------------------------------------


def clients(system: System, address: str, settings: Settings) -> dict[str, float]:
    """Several client processes, each with several threads and proxies."""
    workers = [
        Process("bench.workers", system.key, address, str(settings.threads_per_process))
        for _ in range(settings.processes)
    ]
    try:
        for worker in workers:
            ready = worker.read(timeout=60)  # connected and warmed up
            if "error" in ready:
                raise RuntimeError(f"client process failed: {ready['error']}")
        for worker in workers:
            worker.write({"duration": settings.duration})
        results = [worker.read(timeout=settings.duration + 60) for worker in workers]
    finally:
        for worker in workers:
            worker.stop()
    for result in results:
        if "error" in result:
            raise RuntimeError(f"client process failed: {result['error']}")
    return {"calls/s": sum(r["calls"] / r["elapsed"] for r in results)}


# -- payload ---------------------------------------------------------------


def payload(system: System, address: str, settings: Settings) -> dict[str, float]:
    """Echo bytes of each size; MB/s is payload bytes per second one way."""
    client = system.client(address)
    out = {}
    try:
        for size in settings.payloads:
            data = os.urandom(size)
            _check(client.echo(data), data)
            calls = 0
            start = time.perf_counter()
            end = start + settings.duration
            while True:
                result = client.echo(data)
                calls += 1
                if result != data:
                    _check(result, data)
                now = time.perf_counter()
                if now >= end:
                    break
            out[_size_name(size)] = size * calls / (now - start) / 1e6
    finally:
        client.close()
    return out


# -- connect ---------------------------------------------------------------


def connect(system: System, address: str, settings: Settings) -> dict[str, float]:
    """A new client: connection, handshake and first reply, in milliseconds."""
    times = []
    end = time.perf_counter() + settings.duration
    while len(times) < 3 or time.perf_counter() < end:
        times.append(system.connect_once(address))
    return {"new proxy to first reply": statistics.median(times) * 1000}


# -- asyncio_fanout ----------------------------------------------------------


def asyncio_fanout(system: System, address: str, settings: Settings) -> dict[str, float]:
    """``fanout`` calls awaited concurrently from one task group, and one after another."""
    return asyncio.run(_fanout(system, address, settings))


async def _fanout(system: System, address: str, settings: Settings) -> dict[str, float]:
    count = settings.fanout
    async with system.aio_client(address) as echo:
        _check(await echo(0), 0)
        concurrent: list[float] = []
        sequential: list[float] = []
        end = time.perf_counter() + settings.duration
        while not concurrent or time.perf_counter() < end:
            start = time.perf_counter()
            results = await _gather(echo, count)
            concurrent.append(time.perf_counter() - start)
            _check(results, list(range(count)))
            start = time.perf_counter()
            for i in range(count):
                result = await echo(i)
                if result != i:
                    _check(result, i)
            sequential.append(time.perf_counter() - start)
    concurrent_ms = statistics.median(concurrent) * 1000
    sequential_ms = statistics.median(sequential) * 1000
    return {
        "concurrent": concurrent_ms,
        "sequential": sequential_ms,
        "speedup": sequential_ms / concurrent_ms,
    }


async def _gather(echo: Callable[[Any], Any], count: int) -> list[Any]:
    task_group = getattr(asyncio, "TaskGroup", None)
    if task_group is None:  # Python 3.10
        return list(await asyncio.gather(*(echo(i) for i in range(count))))
    async with task_group() as group:
        tasks = [group.create_task(echo(i)) for i in range(count)]
    return [task.result() for task in tasks]


# -- the table ---------------------------------------------------------------

Scenario = Callable[[System, str, Settings], "dict[str, float]"]

SCENARIOS: dict[str, Scenario] = {
    "seq_small": seq_small,
    "threads_one_proxy": threads_one_proxy,
    "threads_own_proxy": threads_own_proxy,
    "clients": clients,
    "payload": payload,
    "connect": connect,
    "asyncio_fanout": asyncio_fanout,
}


def metrics(settings: Settings) -> list[Metric]:
    """The report's rows, in order, for these settings."""
    rows = [
        Metric("seq_small", "calls/s", "calls/s"),
        Metric("seq_small", "median", "µs", higher_is_better=False),
        Metric("seq_small", "p99", "µs", higher_is_better=False),
        Metric("threads_one_proxy", "calls/s", "calls/s"),
        Metric("threads_own_proxy", "calls/s", "calls/s"),
        Metric("clients", "calls/s", "calls/s"),
    ]
    rows += [Metric("payload", _size_name(size), "MB/s") for size in settings.payloads]
    rows += [
        Metric("connect", "new proxy to first reply", "ms", higher_is_better=False),
        Metric("asyncio_fanout", "concurrent", "ms", higher_is_better=False),
        Metric("asyncio_fanout", "sequential", "ms", higher_is_better=False),
        Metric("asyncio_fanout", "speedup", "x"),
    ]
    return rows
