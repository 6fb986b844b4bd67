"""Discovery with mDNS / DNS-SD (python-zeroconf), on loopback only.

Every advertiser and every search is pinned to 127.0.0.1 and uses a naming
domain of its own, so other naming services advertised on this machine's
loopback (by other tests) never answer these searches.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import attrs
import pytest
from zeroconf import IPVersion, ServiceInfo, Zeroconf

import orb
from naming_support import Daemon, Thing, unique_domain, wait_until
from orb._wire import PROTOCOL_VERSION
from orb.naming import (
    DOMAIN_ENV,
    INTERFACES_ENV,
    NAMING_OBJECT_ID,
    SERVICE_TYPE,
    Advertiser,
    Found,
    browse,
    find_naming,
    locate,
)
from orb.naming._mdns import _parse

LOOPBACK = ["127.0.0.1"]


@attrs.frozen
class Record:
    advertiser: Advertiser
    port: int
    domain: str
    orb_id: bytes
    tls: bool


@pytest.fixture(scope="module")
def records() -> Iterator[tuple[Record, Record]]:
    """Two records on loopback, each in a domain of its own; the first says TLS."""
    specs = [(7123, unique_domain(), os.urandom(16), True), (7124, unique_domain(), os.urandom(16), False)]
    made: list[Record | BaseException] = [RuntimeError("not registered")] * 2

    def register(i: int) -> None:  # each registration probes for a second or so: in parallel
        port, domain, orb_id, tls = specs[i]
        try:
            advertiser = Advertiser(host="127.0.0.1", port=port, orb_id=orb_id, domain=domain,
                                    tls=tls, interfaces=LOOPBACK)
            made[i] = Record(advertiser, port, domain, orb_id, tls)
        except BaseException as exc:  # noqa: BLE001 - raised below
            made[i] = exc

    threads = [threading.Thread(target=register, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    ok = [r for r in made if isinstance(r, Record)]
    try:
        for result in made:
            if isinstance(result, BaseException):
                raise result
        yield ok[0], ok[1]
    finally:
        for record in ok:
            record.advertiser.close()


def test_the_record_carries_version_tls_orb_id_and_domain(records: tuple[Record, Record]) -> None:
    record = records[0]
    name = record.advertiser.name
    assert name.endswith("." + SERVICE_TYPE)
    # Read the record with plain zeroconf, as any DNS-SD client would.
    zc = Zeroconf(interfaces=LOOPBACK, ip_version=IPVersion.V4Only)
    try:
        info = zc.get_service_info(SERVICE_TYPE, name, timeout=3000)
    finally:
        zc.close()
    assert info is not None
    assert info.port == record.port
    assert info.parsed_addresses() == ["127.0.0.1"]
    assert info.properties == {
        b"version": str(PROTOCOL_VERSION).encode(),
        b"tls": b"1",
        b"orb_id": record.orb_id.hex().encode(),
        b"domain": record.domain.encode(),
    }
    [found] = browse(domain=record.domain, timeout=3, interfaces=LOOPBACK)
    assert found == Found(
        name=name, host="127.0.0.1", port=record.port, domain=record.domain, tls=True,
        orb_id=record.orb_id.hex(),
    )
    assert found.address == f"127.0.0.1:{record.port}"


def test_locate_picks_the_naming_service_of_the_domain(records: tuple[Record, Record]) -> None:
    tls, plain = records
    assert locate(domain=plain.domain, timeout=3, interfaces=LOOPBACK) == f"127.0.0.1:{plain.port}"
    # A TLS naming service is located with its scheme.
    assert locate(domain=tls.domain, timeout=3, interfaces=LOOPBACK) == f"tls://127.0.0.1:{tls.port}"


def test_discovery_reads_interfaces_and_domain_from_the_environment(
    records: tuple[Record, Record], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = records[1]
    monkeypatch.setenv(INTERFACES_ENV, "127.0.0.1")
    monkeypatch.setenv(DOMAIN_ENV, plain.domain)
    assert find_naming(timeout=3) == f"orb://127.0.0.1:{plain.port}/{NAMING_OBJECT_ID}"


@pytest.mark.parametrize(("version", "kept"), [(str(PROTOCOL_VERSION), True), ("999", False), (None, False)])
def test_only_records_of_this_protocol_version_with_an_address_count(version: str | None, kept: bool) -> None:
    port = 7401
    properties = {"tls": "0", "orb_id": "ab", "domain": "d"}
    if version is not None:
        properties["version"] = version
    name = f"other.{SERVICE_TYPE}"
    info = ServiceInfo(SERVICE_TYPE, name, port=port, properties=properties,
                       server="other.local.", parsed_addresses=["127.0.0.1"])
    expected = Found(name=name, host="127.0.0.1", port=port, domain="d", tls=False, orb_id="ab")
    assert _parse(name, info) == (expected if kept else None)
    assert _parse(name, None) is None
    no_address = ServiceInfo(SERVICE_TYPE, name, port=port, properties=properties, server="other.local.")
    assert _parse(name, no_address) is None


def test_nothing_found_says_what_was_tried_and_what_to_do() -> None:
    domain = unique_domain()
    started = time.monotonic()
    with pytest.raises(orb.CommunicationError) as caught:
        locate(domain=domain, timeout=0.3, interfaces=LOOPBACK)
    assert time.monotonic() - started < 3
    message = str(caught.value)
    assert "no naming service found" in message
    assert SERVICE_TYPE in message
    assert f"for domain {domain!r}" in message
    assert "on 127.0.0.1" in message
    assert "within 0.3s" in message
    assert "orb-naming" in message and "ORB_NAMING=host:port" in message


def test_find_naming_without_configuration_searches_mdns_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    domain = unique_domain()
    monkeypatch.setenv(INTERFACES_ENV, "127.0.0.1")
    monkeypatch.setenv(DOMAIN_ENV, domain)
    with pytest.raises(orb.CommunicationError, match=f"no naming service found.*{domain}.*127.0.0.1"):
        find_naming(timeout=0.3)


def test_the_daemon_is_found_and_used_with_no_configuration(
    start_daemon: Callable[..., Daemon], monkeypatch: pytest.MonkeyPatch
) -> None:
    domain = unique_domain()
    daemon = start_daemon("--mdns-interface", "127.0.0.1", "--domain", domain, "--lease", "1")
    # Every broker of this "host" searches loopback in this domain.
    monkeypatch.setenv(INTERFACES_ENV, "127.0.0.1")
    monkeypatch.setenv(DOMAIN_ENV, domain)
    with orb.ORB(listen="tcp://127.0.0.1:0") as server:
        server.export(Thing("discovered"), name="found/by/mdns", metadata={"via": "mdns"})
        with orb.ORB() as client:
            assert orb.resolve("found/by/mdns").who() == "discovered"
            naming = orb.naming.naming_proxy(broker=client)
            assert str(orb.ref(naming)) == daemon.uri
            assert [e["name"] for e in naming.list(metadata={"via": "mdns"})] == ["found/by/mdns"]

            # The naming service restarts elsewhere (another port, nothing kept):
            # resolve finds it again, and the server's broker, whose renewals
            # fail, finds it again too and binds its name there.
            daemon.stop()
            moved = start_daemon("--mdns-interface", "127.0.0.1", "--domain", domain, "--lease", "1")
            assert moved.address != daemon.address
            thing = Thing("after the move")
            server.export(thing)
            server.proxy(moved.uri).bind("found/after/move", thing, None, 60)
            assert orb.resolve("found/after/move").who() == "after the move"
            wait_until(lambda: orb.naming.naming_proxy(broker=client).list("found/by/"),
                       "the server to bind its name in the moved naming service", timeout=10)
            assert orb.resolve("found/by/mdns").who() == "discovered"
