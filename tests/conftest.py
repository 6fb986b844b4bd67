"""Shared fixtures: real brokers on loopback sockets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import orb


@pytest.fixture
def server() -> Iterator[orb.ORB]:
    """A broker listening on a free loopback TCP port."""
    with orb.ORB(listen="tcp://127.0.0.1:0") as broker:
        yield broker


@pytest.fixture
def client() -> Iterator[orb.ORB]:
    """A client-only broker (no listener)."""
    with orb.ORB() as broker:
        yield broker
