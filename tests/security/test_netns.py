"""Two network-namespace "hosts" talking over mutual TLS across a veth pair.

The namespaces, the veth pair and its private addresses (10.231.0.0/16)
exist only for the test and are deleted afterwards. Needs root.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator

import pytest
from orb.security import CertificateAuthority

from ._procs import HERE, LineProcess, clean_env, python
from .conftest import PKI

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="needs the ip command (iproute2)"),
]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.fixture
def hosts() -> Iterator[tuple[str, str, str, str]]:
    """Namespaces (server, client) joined by a veth pair; yields (ns_a, addr_a, ns_b, addr_b)."""
    tag = secrets.token_hex(3)
    subnet = int(tag[:2], 16)
    ns_a, ns_b = f"orbsec-a-{tag}", f"orbsec-b-{tag}"
    addr_a, addr_b = f"10.231.{subnet}.1", f"10.231.{subnet}.2"
    try:
        _ip("netns", "add", ns_a)
        _ip("netns", "add", ns_b)
    except subprocess.CalledProcessError as exc:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)
        pytest.skip(f"cannot create network namespaces here: {exc.stderr.decode().strip()}")
    try:
        # The veth ends are created inside the namespaces: nothing touches the host's links.
        _ip("-n", ns_a, "link", "add", f"va{tag}", "type", "veth", "peer", "name", f"vb{tag}",
            "netns", ns_b)
        for ns, dev, addr in ((ns_a, f"va{tag}", addr_a), (ns_b, f"vb{tag}", addr_b)):
            _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
        yield ns_a, addr_a, ns_b, addr_b
    finally:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)


def test_two_hosts_talk_over_mutual_tls(pki: PKI, hosts: tuple[str, str, str, str],
                                         tmp_path: object) -> None:
    ns_a, addr_a, ns_b, addr_b = hosts
    ca = CertificateAuthority.load(pki.ca, pki.ca.replace("ca.pem", "ca.key"))
    cert, key = f"{tmp_path}/host-a.pem", f"{tmp_path}/host-a.key"
    ca.issue_server([], [addr_a]).save(cert, key)
    env = clean_env()
    server = LineProcess(
        python(os.path.join(HERE, "tls_peer.py"), f"tls://{addr_a}:0", cert, key, pki.ca),
        env=env, prefix=["ip", "netns", "exec", ns_a],
    )
    try:
        uri = json.loads(server.readline(15))["uri"]
        assert uri.startswith(f"orbs://{addr_a}:")
        client = LineProcess(
            python(os.path.join(HERE, "netns_client.py"), uri, pki.alice.cert, pki.alice.key,
                   pki.ca, addr_b),
            env=env, prefix=["ip", "netns", "exec", ns_b],
        )
        try:
            report = json.loads(client.readline(30))
        finally:
            client.stop()
    finally:
        server.stop()
    assert report["echo"] == [1, "two", 3.0]
    assert report["caller"] == "alice"
    assert report["peer"].startswith(f"{addr_a}:")
    assert "TLSError" in report["anonymous"] and "requires a client certificate" in report["anonymous"]
    assert f"refusing to listen in plaintext on tcp://{addr_b}:0" in report["plaintext"]
