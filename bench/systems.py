"""The client side of each system under test.

A :class:`System` knows how to reach its echo server (see
``bench.servers``): :meth:`System.client` opens a client whose ``echo``
is the bound remote method, called the way a user of that library calls
it; :meth:`System.connect_once` times one new connection up to its first
reply; :meth:`System.aio_client` gives an asyncio client when the system
has an asyncio API. What a system cannot do raises :class:`NotAvailable`
with the reason, which the report prints instead of a number.
"""

from __future__ import annotations

import contextlib
import importlib.util
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import attrs


class NotAvailable(Exception):
    """This system cannot run this scenario; the message says why."""


@attrs.define
class Client:
    """A connection (or proxy) and the remote echo method bound on it."""

    echo: Callable[[Any], Any]
    close: Callable[[], None] = lambda: None


AsyncEcho = Callable[[Any], Awaitable[Any]]


class System:
    """Base class: one RPC system, as seen by its clients."""

    #: Key used on the command line and in results.
    key = ""
    #: Column title in the table.
    title = ""
    #: Python modules the client and server need (checked before running).
    requires: tuple[str, ...] = ()

    def missing(self) -> str | None:
        """Why this system cannot run here, or None when it can."""
        for module in self.requires:
            if importlib.util.find_spec(module) is None:
                return f"{module} is not installed (pip install '.[bench]')"
        return None

    def client(self, address: str) -> Client:
        """A new client of the echo server at ``address``, ready for calls."""
        raise NotImplementedError

    def shared_client(self, address: str) -> Client:
        """A client that several threads may call at once."""
        return self.client(address)

    def connect_once(self, address: str) -> float:
        """Seconds from a new connection (or proxy) to its first reply."""
        client = None
        start = time.perf_counter()
        try:
            client = self.client(address)
            client.echo(1)
            return time.perf_counter() - start
        finally:
            if client is not None:
                client.close()

    def aio_client(self, address: str) -> contextlib.AbstractAsyncContextManager[AsyncEcho]:
        """An async context manager giving an awaitable echo (for asyncio_fanout)."""
        raise NotAvailable(f"{self.title} has no asyncio API")

    def close(self) -> None:
        """Release what the clients of this process share."""


class OrbSystem(System):
    """orb: one client-only broker per process, carrying every proxy."""

    requires = ("orb", "msgpack")

    def __init__(self, key: str, title: str) -> None:
        self.key = key
        self.title = title
        self._broker: Any = None

    def _shared_broker(self) -> Any:
        if self._broker is None:
            import orb

            self._broker = orb.ORB()
        return self._broker

    def client(self, address: str) -> Client:
        proxy = self._shared_broker().proxy(address)
        return Client(echo=proxy.echo)

    def connect_once(self, address: str) -> float:
        import orb

        # A proxy on an existing broker reuses its connection, so a fresh
        # client-only broker stands for a new client; making and closing
        # it are not timed.
        with orb.ORB() as broker:
            start = time.perf_counter()
            broker.proxy(address).echo(1)
            return time.perf_counter() - start

    @contextlib.asynccontextmanager
    async def aio_client(self, address: str) -> AsyncIterator[AsyncEcho]:
        try:
            import orb.aio as aio
        except ImportError:
            raise NotAvailable("orb.aio missing") from None
        async with aio.ORB() as broker:
            proxy = await aio.proxy(address, broker=broker)
            yield proxy.echo

    def close(self) -> None:
        if self._broker is not None:
            self._broker.close()
            self._broker = None


class Pyro5System(System):
    key = "pyro5"
    title = "Pyro5"
    requires = ("Pyro5", "serpent")

    def client(self, address: str) -> Client:
        import Pyro5.api
        import serpent

        proxy = Pyro5.api.Proxy(address)
        remote = proxy.echo

        def echo(value: Any) -> Any:
            result = remote(value)
            # serpent, Pyro5's default serializer, returns bytes as a base64 dict.
            return serpent.tobytes(result) if type(result) is dict else result

        def close() -> None:
            proxy._pyroClaimOwnership()  # closing may happen on another thread
            proxy._pyroRelease()

        return Client(echo=echo, close=close)

    def shared_client(self, address: str) -> Client:
        raise NotAvailable(
            "a Pyro5 proxy belongs to the thread that made it; other threads must claim "
            "ownership first, so threads do not share one"
        )


class RPyCSystem(System):
    key = "rpyc"
    title = "RPyC"
    requires = ("rpyc",)

    def client(self, address: str) -> Client:
        import rpyc

        host, _, port = address.rpartition(":")
        connection = rpyc.connect(host, int(port), config={"sync_request_timeout": 120})
        # Bind the method once: each conn.root.echo lookup is a round trip of its own.
        return Client(echo=connection.root.echo, close=connection.close)


class FloorSystem(System):
    key = "floor"
    title = "floor"
    requires = ("msgpack",)

    def client(self, address: str) -> Client:
        from bench.floor import FloorClient

        host, _, port = address.rpartition(":")
        client = FloorClient((host, int(port)))
        return Client(echo=client.echo, close=client.close)

    @contextlib.asynccontextmanager
    async def aio_client(self, address: str) -> AsyncIterator[AsyncEcho]:
        from bench.floor import AsyncFloorClient

        host, _, port = address.rpartition(":")
        client = await AsyncFloorClient.connect((host, int(port)))
        try:
            yield client.echo
        finally:
            await client.close()


def all_systems() -> list[System]:
    """Every system, in table order."""
    return [
        OrbSystem("orb_tcp", "orb tcp"),
        OrbSystem("orb_unix", "orb unix"),
        Pyro5System(),
        RPyCSystem(),
        FloorSystem(),
    ]


SYSTEM_KEYS = ("orb_tcp", "orb_unix", "pyro5", "rpyc", "floor")


def system(key: str) -> System:
    """The system with this key."""
    for candidate in all_systems():
        if candidate.key == key:
            return candidate
    raise KeyError(key)
