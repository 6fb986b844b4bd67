"""mDNS / DNS-SD: advertising and finding naming services with python-zeroconf.

A naming daemon advertises ``<instance>._orb-naming._tcp.local.`` with TXT
records ``version`` (protocol version), ``tls`` (``1`` or ``0``),
``orb_id`` (hex) and ``domain`` (optional: several naming services can
share a LAN, each serving its own domain).

``interfaces`` pins zeroconf to the given local IP addresses (for example
``["127.0.0.1"]``); None means every interface. Tests, demos and CI pin it
to loopback so nothing leaves the machine.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import queue
import socket
import time
from collections.abc import Sequence

import attrs
from zeroconf import (
    DNSQuestionType,
    IPVersion,
    ServiceBrowser,
    ServiceInfo,
    ServiceListener,
    Zeroconf,
)

from orb._errors import CommunicationError
from orb._wire import PROTOCOL_VERSION

log = logging.getLogger("orb.naming.mdns")

SERVICE_TYPE = "_orb-naming._tcp.local."
#: Environment variable with comma-separated local addresses to pin mDNS to.
INTERFACES_ENV = "ORB_MDNS_INTERFACES"
#: Environment variable naming the naming domain to look for.
DOMAIN_ENV = "ORB_NAMING_DOMAIN"


@attrs.frozen
class Found:
    """A naming service seen on the network."""

    name: str
    host: str
    port: int
    domain: str
    tls: bool
    orb_id: str

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def interfaces_from_env() -> list[str] | None:
    """The interfaces named by ``ORB_MDNS_INTERFACES``, or None (all)."""
    text = os.environ.get(INTERFACES_ENV, "").strip()
    return [part.strip() for part in text.split(",") if part.strip()] or None


def _zeroconf(interfaces: Sequence[str] | None) -> Zeroconf:
    if interfaces is None:
        return Zeroconf()
    only_v4 = all(":" not in i for i in interfaces)
    return Zeroconf(
        interfaces=list(interfaces), ip_version=IPVersion.V4Only if only_v4 else IPVersion.All
    )


class Advertiser:
    """Publishes one naming service on mDNS until closed."""

    def __init__(
        self,
        *,
        host: str,
        port: int,
        orb_id: bytes,
        domain: str | None = None,
        tls: bool = False,
        interfaces: Sequence[str] | None = None,
    ) -> None:
        hostname = socket.gethostname().split(".")[0] or "orb"
        instance = f"orb-naming-{hostname}-{orb_id.hex()[:8]}"
        addresses = _addresses_of(host, interfaces)
        self.properties = {
            "version": str(PROTOCOL_VERSION),
            "tls": "1" if tls else "0",
            "orb_id": orb_id.hex(),
            "domain": domain or "",
        }
        self.info = ServiceInfo(
            SERVICE_TYPE,
            f"{instance}.{SERVICE_TYPE}",
            port=port,
            properties=self.properties,
            server=f"{instance}.local.",
            parsed_addresses=addresses,
        )
        self._zc = _zeroconf(interfaces)
        try:
            self._zc.register_service(self.info)
        except BaseException:
            self._zc.close()
            raise
        log.info("advertising %s at %s:%d", self.info.name, addresses, port)

    @property
    def name(self) -> str:
        return self.info.name

    def close(self) -> None:
        """Withdraw the record (a goodbye packet) and stop zeroconf."""
        try:
            self._zc.unregister_service(self.info)
        finally:
            self._zc.close()


class _Collector(ServiceListener):
    def __init__(self) -> None:
        self.names: queue.SimpleQueue[str] = queue.SimpleQueue()

    def add_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.put(name)

    def update_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        self.names.put(name)

    def remove_service(self, zc: Zeroconf, type_: str, name: str) -> None:
        pass


def browse(
    *, domain: str | None = None, timeout: float = 3.0, interfaces: Sequence[str] | None = None,
    first: bool = True,
) -> list[Found]:
    """Naming services seen within ``timeout`` seconds (only the first one if ``first``)."""
    deadline = time.monotonic() + timeout
    found: dict[str, Found] = {}
    zc = _zeroconf(interfaces)
    collector = _Collector()
    # Multicast (QM) questions only: an answer to a unicast-response (QU)
    # question goes to port 5353 of this host, where the kernel hands it to
    # just one of the sockets sharing that port (another mDNS responder's,
    # quite possibly), so the first answer would be lost and found only on
    # the retry a second later.
    browser = ServiceBrowser(zc, SERVICE_TYPE, collector, question_type=DNSQuestionType.QM)
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                name = collector.names.get(timeout=remaining)
            except queue.Empty:
                break
            # Answers usually carry the SRV, TXT and A records (then this is
            # a cache read); a silent responder must not eat the whole timeout.
            wait = min(max(remaining, 0.1), 1.0)
            info = zc.get_service_info(
                SERVICE_TYPE, name, timeout=int(wait * 1000), question_type=DNSQuestionType.QM
            )
            service = _parse(name, info)
            if service is None or (domain is not None and service.domain != domain):
                continue
            found[name] = service
            if first:
                break
    finally:
        browser.cancel()
        zc.close()
    return list(found.values())


def locate(
    domain: str | None = None, timeout: float = 3.0, interfaces: Sequence[str] | None = None
) -> str:
    """The ``host:port`` of a naming service found by mDNS (``tls://host:port`` when its TXT says tls=1).

    ``domain`` selects the naming service of that domain (default:
    ``ORB_NAMING_DOMAIN``, else any); ``interfaces`` pins the search to
    those local addresses (default: ``ORB_MDNS_INTERFACES``, else every
    interface). Raises CommunicationError saying what was tried.
    """
    if interfaces is None:
        interfaces = interfaces_from_env()
    if domain is None:
        domain = os.environ.get(DOMAIN_ENV, "").strip() or None
    services = browse(domain=domain, timeout=timeout, interfaces=interfaces)
    if not services:
        where = ", ".join(interfaces) if interfaces else "all interfaces"
        scope = f"for domain {domain!r}" if domain else "in any domain"
        raise CommunicationError(
            f"no naming service found: mDNS browsing for {SERVICE_TYPE} {scope} on {where} "
            f"saw nothing within {timeout:g}s. Start one with `orb-naming`, or point at one "
            "with ORB_NAMING=host:port (or the naming= argument)"
        )
    found = services[0]
    return f"tls://{found.address}" if found.tls else found.address


def _parse(name: str, info: ServiceInfo | None) -> Found | None:
    if info is None or not info.port:
        return None
    addresses = info.parsed_addresses()
    if not addresses:
        return None
    props = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v or "")
        for k, v in (info.properties or {}).items()
    }
    if props.get("version") != str(PROTOCOL_VERSION):
        log.info("ignoring %s: it speaks protocol version %s", name, props.get("version"))
        return None
    return Found(
        name=name,
        host=addresses[0],
        port=info.port,
        domain=props.get("domain", ""),
        tls=props.get("tls") == "1",
        orb_id=props.get("orb_id", ""),
    )


def _addresses_of(host: str, interfaces: Sequence[str] | None) -> list[str]:
    """The IP addresses to publish for a service listening on ``host``."""
    if host in ("0.0.0.0", "::", ""):  # every address: those advertised on, else all
        return list(interfaces or []) or _local_addresses()
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:  # a host name such as "localhost": publish what it stands for
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _local_addresses() -> list[str]:
    import ifaddr

    addresses = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not ip.ip.startswith("127."):
                addresses.append(ip.ip)
    return addresses or ["127.0.0.1"]
