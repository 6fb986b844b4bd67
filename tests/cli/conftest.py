"""Fixtures for the ``orb`` command tests: a naming daemon and a server process on loopback."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from .support import NamingDaemon, Server


@pytest.fixture(scope="module")
def naming() -> Iterator[NamingDaemon]:
    """A naming daemon (no mDNS) shared by the tests of one module."""
    daemon = NamingDaemon()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(scope="module")
def server(naming: NamingDaemon) -> Iterator[Server]:
    """A server that bound demo/calc, demo/vault and demo/chat/lobby in ``naming``."""
    process = Server(naming.address)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def mdns_naming() -> Iterator[tuple[NamingDaemon, str]]:
    """A naming daemon advertised by mDNS on loopback only, in a domain of its own."""
    domain = f"cli-{uuid.uuid4().hex[:8]}"
    daemon = NamingDaemon("--mdns-interface", "127.0.0.1", "--domain", domain)
    try:
        yield daemon, domain
    finally:
        daemon.stop()


@pytest.fixture
def unused_port() -> int:
    """A loopback TCP port nothing listens on (bound, then closed without listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
