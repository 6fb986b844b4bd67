"""Proxies: exposure, forwarded dunders, properties, concurrency, timeouts, one-way calls."""

from __future__ import annotations

import builtins
import pydoc
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

import orb


@orb.expose
class Shelf:
    """A small mapping that behaves like a container."""

    def __init__(self) -> None:
        self.items: dict[str, int] = {"a": 1, "b": 2}
        self.entered = 0
        self.exited: list[str | None] = []
        self._label = "shelf"

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[str]:
        return iter(self.items)

    def __getitem__(self, key: str) -> int:
        return self.items[key]

    def __setitem__(self, key: str, value: int) -> None:
        self.items[key] = value

    def __delitem__(self, key: str) -> None:
        del self.items[key]

    def __contains__(self, key: str) -> bool:
        return key in self.items

    def __str__(self) -> str:
        return f"Shelf with {len(self.items)} items"

    def __repr__(self) -> str:
        return "the remote repr"

    def __enter__(self) -> Shelf:
        self.entered += 1
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.exited.append(None if exc_type is None else exc_type.__name__)
        return exc_type is KeyError  # swallow KeyErrors

    def _private(self) -> str:
        return "secret"

    def __secret__(self) -> str:
        return "dunder secret"

    @property
    def label(self) -> str:
        """The shelf's label."""
        return self._label

    @label.setter
    def label(self, value: str) -> None:
        self._label = value

    @property
    def size(self) -> int:
        """Read-only."""
        return len(self.items)

    def count(self) -> int:
        return len(self.items)


class Partly:
    """Only some members are exposed."""

    @orb.expose
    def visible(self) -> str:
        return "visible"

    def hidden(self) -> str:
        return "hidden"

    @orb.expose
    @property
    def answer(self) -> int:
        return 42


@orb.expose
class Empty:
    def __len__(self) -> int:
        return 0


@orb.expose
class Truthy:
    def __bool__(self) -> bool:
        return False


@pytest.fixture
def shelf(server: orb.ORB) -> Shelf:
    return Shelf()


@pytest.fixture
def remote(shelf: Shelf, server: orb.ORB, client: orb.ORB) -> orb.Proxy:
    return client.proxy(server.export(shelf))


# -- exposure -------------------------------------------------------------


def test_only_exposed_members_are_callable(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Partly()))
    assert proxy.visible() == "visible"
    assert proxy.answer == 42
    with pytest.raises(AttributeError, match="hidden"):
        proxy.hidden()
    # Even by name, past the proxy, the server refuses it.
    with pytest.raises(AttributeError, match="no exposed method 'hidden'"):
        orb.invoke(proxy, "hidden")


@pytest.mark.parametrize("name", ["_private", "__secret__", "__init__", "__class__", "__dict__",
                                  "__reduce__", "__getattribute__", "__orb_nothing__"])
def test_underscore_names_are_refused_by_the_server(remote: orb.Proxy, name: str) -> None:
    with pytest.raises(AttributeError):
        orb.invoke(remote, name)


def test_underscore_names_are_not_proxy_attributes(remote: orb.Proxy) -> None:
    with pytest.raises(AttributeError):
        remote._private  # noqa: B018
    assert "_private" not in dir(remote)
    with pytest.raises(AttributeError):
        remote._private = 1


def test_exposing_an_underscore_method_is_refused() -> None:
    with pytest.raises(TypeError, match="never remotely callable"):

        class Bad:
            @orb.expose
            def _hidden(self) -> None: ...


def test_allowed_dunders_work_through_a_proxy(remote: orb.Proxy, shelf: Shelf) -> None:
    assert len(remote) == 2
    assert list(remote) == ["a", "b"]
    assert remote["a"] == 1
    remote["c"] = 3
    assert shelf.items["c"] == 3
    del remote["a"]
    assert "a" not in shelf.items
    assert "b" in remote and "zzz" not in remote
    assert bool(remote) is True
    assert str(remote) == "Shelf with 2 items"
    with pytest.raises(KeyError):
        remote["missing"]  # noqa: B018


def test_context_manager_through_a_proxy(remote: orb.Proxy, shelf: Shelf) -> None:
    with remote as entered:
        assert entered == remote  # __enter__ returned the servant: it comes back as a proxy
    assert shelf.entered == 1 and shelf.exited == [None]
    with remote:
        raise KeyError("swallowed by the remote __exit__")
    assert shelf.exited == [None, "KeyError"]
    with pytest.raises(ValueError):
        with remote:
            raise ValueError("not swallowed")
    assert shelf.exited[-1] == "ValueError"


def test_bool_falls_back_to_len_and_defaults_to_true(server: orb.ORB, client: orb.ORB) -> None:
    assert bool(client.proxy(server.export(Empty()))) is False
    assert bool(client.proxy(server.export(Truthy()))) is False
    assert bool(client.proxy(server.export(Partly()))) is True


def test_repr_is_local(remote: orb.Proxy) -> None:
    text = repr(remote)
    assert "the remote repr" not in text
    assert text.startswith("<orb.Proxy ") and str(orb.ref(remote)) in text
    assert f"{__name__}.Shelf" in text


def test_dunders_a_class_lacks_are_refused(server: orb.ORB, client: orb.ORB) -> None:
    # As on a local object: a protocol the class lacks is a TypeError, so
    # list() (which asks for a length hint) still works on an iterable proxy.
    proxy = client.proxy(server.export(Partly()))
    with pytest.raises(TypeError, match="has no len"):
        len(proxy)
    with pytest.raises(TypeError, match="not subscriptable"):
        proxy["x"]  # noqa: B018


# -- properties -----------------------------------------------------------


def test_properties_read_and_set(remote: orb.Proxy, shelf: Shelf) -> None:
    assert remote.label == "shelf"
    remote.label = "renamed"
    assert shelf._label == "renamed"
    assert remote.label == "renamed"
    assert remote.size == 2


def test_read_only_property_cannot_be_set(remote: orb.Proxy, shelf: Shelf) -> None:
    with pytest.raises(AttributeError, match="read-only"):
        remote.size = 5
    assert shelf.items == {"a": 1, "b": 2}


def test_plain_attributes_are_not_exposed(remote: orb.Proxy) -> None:
    with pytest.raises(AttributeError, match="items"):
        remote.items  # noqa: B018
    with pytest.raises(AttributeError, match="no exposed property"):
        remote.items = {}
    with pytest.raises(AttributeError):
        orb.invoke(remote, "__orb_getattr__", "items")
    with pytest.raises(AttributeError):
        orb.invoke(remote, "__orb_setattr__", "items", {})


# -- introspection --------------------------------------------------------


def test_dir_lists_remote_members(remote: orb.Proxy) -> None:
    names = dir(remote)
    for name in ("count", "label", "size", "__len__", "__getitem__"):
        assert name in names
    assert "items" not in names and "_private" not in names


def test_help_shows_remote_doc_and_signature(server: orb.ORB, client: orb.ORB) -> None:
    @orb.expose
    class Documented:
        def area(self, width: float, height: float = 1.0) -> float:
            """Width times height, in square metres."""
            return width * height

    proxy = client.proxy(server.export(Documented()))
    text = pydoc.render_doc(proxy.area, renderer=pydoc.plaintext)
    assert "Width times height, in square metres." in text
    assert "area(width: float, height: float = 1.0) -> float" in text


# -- concurrency ----------------------------------------------------------


@orb.expose
class Worker:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.slow_started = threading.Event()

    def echo(self, thread: int, n: int) -> list[int]:
        return [thread, n, thread * n]

    def mirror(self, value: Any) -> Any:
        return value

    def slow(self) -> str:
        self.slow_started.set()
        if not self.release.wait(10):
            return "never released"
        return "slow done"

    def fast(self) -> str:
        return "fast done"


def test_many_threads_share_one_proxy(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Worker()), timeout=30)
    errors: list[BaseException] = []
    wrong: list[tuple] = []
    start = threading.Barrier(16)

    def run(thread: int) -> None:
        try:
            start.wait()
            for n in range(500):
                result = proxy.echo(thread, n)
                if result != [thread, n, thread * n]:
                    wrong.append((thread, n, result))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and not wrong
    assert len(client.stats()["connections"]) == 1  # all over one connection


def test_large_payloads_interleave_with_small_calls(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Worker()), timeout=30)
    big = [bytes([n]) * (3 * 1024 * 1024 + n) for n in range(4)]
    errors: list[BaseException] = []

    def send_big(n: int) -> None:
        try:
            for _ in range(3):
                assert proxy.mirror(big[n]) == big[n]
        except BaseException as exc:
            errors.append(exc)

    def send_small(n: int) -> None:
        try:
            for i in range(200):
                assert proxy.echo(n, i) == [n, i, n * i]
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send_big, args=(n,)) for n in range(4)]
    threads += [threading.Thread(target=send_small, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []


def test_slow_call_does_not_block_a_fast_one(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker), timeout=10)
    results: list[str] = []
    slow = threading.Thread(target=lambda: results.append(proxy.slow()))
    slow.start()
    try:
        assert worker.slow_started.wait(5)
        assert proxy.fast() == "fast done"  # same proxy, same connection
        assert results == []  # the slow one is still held
    finally:
        worker.release.set()
    slow.join(5)
    assert results == ["slow done"]
    assert len(client.stats()["connections"]) == 1


# -- timeouts -------------------------------------------------------------


def test_per_proxy_timeout(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker), timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(orb.TimeoutError) as info:
            proxy.slow()
        assert 0.15 < time.monotonic() - started < 2
        assert isinstance(info.value, builtins.TimeoutError)
        assert isinstance(info.value, orb.CommunicationError)
        assert "slow" in str(info.value)
    finally:
        worker.release.set()
    assert proxy.fast() == "fast done"  # the connection is still good


def test_call_timeout_context_overrides_proxy_timeout(server: orb.ORB, client: orb.ORB) -> None:
    worker = Worker()
    proxy = client.proxy(server.export(worker))  # no timeout of its own
    try:
        with orb.call_timeout(0.2):
            with pytest.raises(builtins.TimeoutError):
                proxy.slow()
        assert worker.slow_started.is_set()
    finally:
        worker.release.set()
    assert proxy.slow() == "slow done"  # outside the block: no timeout


def test_call_timeout_must_be_positive() -> None:
    with pytest.raises(ValueError):
        with orb.call_timeout(0):
            pass


def test_broker_default_timeout(server: orb.ORB) -> None:
    worker = Worker()
    ref = server.export(worker)
    with orb.ORB(timeout=0.2) as client:
        try:
            with pytest.raises(orb.TimeoutError):
                client.proxy(ref).slow()
        finally:
            worker.release.set()


# -- one-way calls ----------------------------------------------------------


@orb.expose
class Mailbox:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.delivered = threading.Event()
        self.got: list[str] = []

    @orb.oneway
    def post(self, message: str) -> str:
        self.release.wait(10)
        self.got.append(message)
        self.delivered.set()
        return "ignored"

    @orb.oneway
    def explode(self) -> None:
        raise RuntimeError("one-way failure")

    def ping(self) -> str:
        return "pong"


def test_oneway_returns_at_once_and_still_runs(server: orb.ORB, client: orb.ORB) -> None:
    box = Mailbox()
    proxy = client.proxy(server.export(box))
    assert proxy.post("hello") is None  # returned while the servant is held
    assert box.got == []
    box.release.set()
    assert box.delivered.wait(5)
    assert box.got == ["hello"]


def test_oneway_failure_is_logged_on_the_server(
    server: orb.ORB, client: orb.ORB, orb_log: Any
) -> None:
    proxy = client.proxy(server.export(Mailbox()))
    assert proxy.explode() is None  # the caller never hears of it
    record = orb_log.wait_for("explode")
    assert record.name.startswith("orb.")
    assert record.exc_info is not None and "one-way failure" in str(record.exc_info[1])
    assert proxy.ping() == "pong"


@orb.expose
class Countdown:
    """Iterable, without __len__ or __contains__."""

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter([3, 2, 1])


def test_list_and_in_work_on_an_iterable_without_len(server: orb.ORB, client: orb.ORB) -> None:
    proxy = client.proxy(server.export(Countdown()))
    assert list(proxy) == [3, 2, 1]
    assert 2 in proxy and 7 not in proxy
