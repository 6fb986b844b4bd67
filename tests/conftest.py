"""Shared fixtures: real brokers on loopback sockets."""

from __future__ import annotations

import logging
import threading
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


class OrbLog(logging.Handler):
    """Records logged under the "orb" logger; tests wait for a message with an Event."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._changed = threading.Condition()

    def emit(self, record: logging.LogRecord) -> None:
        with self._changed:
            self.records.append(record)
            self._changed.notify_all()

    def messages(self) -> list[str]:
        with self._changed:
            return [r.getMessage() for r in self.records]

    def wait_for(self, text: str, timeout: float = 5.0) -> logging.LogRecord:
        """The first record whose message contains ``text``; fails after ``timeout``."""

        def find() -> logging.LogRecord | None:
            return next((r for r in self.records if text in r.getMessage()), None)

        with self._changed:
            found = self._changed.wait_for(find, timeout)
        assert found is not None, f"nothing logged with {text!r}; got {self.messages()}"
        return found


@pytest.fixture
def orb_log() -> Iterator[OrbLog]:
    """Everything logged under the "orb" logger during the test."""
    handler = OrbLog()
    logger = logging.getLogger("orb")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
