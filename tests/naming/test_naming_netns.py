"""Discovery across two "hosts": network namespaces joined by a veth pair.

The test creates both namespaces and the veth pair itself (the pair is made
inside the first namespace with its peer inside the second, so nothing is
ever added to this machine's own network), gives them private addresses
that exist only there, and deletes the namespaces afterwards. The naming
daemon and a server run in one namespace; a client in the other finds the
daemon by mDNS over the veth, resolves names and calls their servers; when
that host's link goes down, the name its server bound expires within one
lease. Every process pins mDNS to its namespace's veth address.

Needs root and iproute2; skipped otherwise.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

from naming_support import LOCATOR, Binder, Daemon, clean_env, unique_domain

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                       reason="creating network namespaces needs root"),
    pytest.mark.skipif(shutil.which("ip") is None, reason="iproute2 (`ip`) is not installed"),
]

SERVER_ADDRESS, CLIENT_ADDRESS = "10.201.0.1", "10.201.0.2"


def ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")


@attrs.frozen
class Hosts:
    server: str  # namespace names
    client: str
    client_link: str  # the client's end of the veth pair

    @staticmethod
    def run_in(namespace: str) -> list[str]:
        return ["ip", "netns", "exec", namespace]


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    tag = f"{os.getpid() % 100000}"
    server, client = f"orbt{tag}s", f"orbt{tag}c"
    server_link, client_link = f"orbv{tag}s", f"orbv{tag}c"
    created: list[str] = []
    try:
        for namespace in (server, client):
            ip("netns", "add", namespace)
            created.append(namespace)
        ip("-n", server, "link", "add", server_link, "type", "veth", "peer", "name", client_link,
           "netns", client)
        for namespace, link, address in ((server, server_link, SERVER_ADDRESS),
                                         (client, client_link, CLIENT_ADDRESS)):
            ip("-n", namespace, "link", "set", "lo", "up")
            ip("-n", namespace, "addr", "add", f"{address}/24", "dev", link)
            ip("-n", namespace, "link", "set", link, "up", "multicast", "on")
            ip("-n", namespace, "route", "add", "224.0.0.0/4", "dev", link)
    except RuntimeError as exc:
        for namespace in created:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)
        pytest.skip(f"cannot set up network namespaces here: {exc}")
    try:
        yield Hosts(server=server, client=client, client_link=client_link)
    finally:
        for namespace in created:
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, timeout=10)


def test_a_client_on_another_host_finds_the_daemon_and_resolves_a_name(
    hosts: Hosts, tmp_path: Path
) -> None:
    domain, lease = unique_domain(), 1.0
    daemon = Daemon(
        "--listen", f"tcp://{SERVER_ADDRESS}:0", "--insecure", "--memory", "--lease", str(lease),
        "--mdns-interface", SERVER_ADDRESS, "--domain", domain,
        log=tmp_path / "daemon.log", prefix=hosts.run_in(hosts.server),
    )
    binder = remote = None
    try:
        assert daemon.address.startswith(f"{SERVER_ADDRESS}:")
        binder = Binder(
            daemon.address, "lab/thing", log=tmp_path / "binder.log",
            options=["--listen", f"tcp://{SERVER_ADDRESS}:0", "--insecure"],
            prefix=hosts.run_in(hosts.server), wait=False,
        )
        # A server on the client's host binds a name in the daemon over the veth too.
        remote = Binder(
            daemon.address, "lab/remote", log=tmp_path / "remote.log",
            options=["--listen", f"tcp://{CLIENT_ADDRESS}:0", "--insecure"],
            prefix=hosts.run_in(hosts.client), wait=False,
        )
        binder.wait_ready()
        remote.wait_ready()
        result = subprocess.run(
            [*hosts.run_in(hosts.client), sys.executable, str(LOCATOR),
             "--interface", CLIENT_ADDRESS, "--domain", domain, "lab/thing", "lab/remote"],
            capture_output=True, text=True, timeout=30, env=clean_env(),
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "naming": daemon.address,
            "answers": [{"name": "lab/thing", "pid": binder.pid}, {"name": "lab/remote", "pid": remote.pid}],
        }

        # Network loss: the client's host drops off the network; its name goes.
        ip("-n", hosts.client, "link", "set", hosts.client_link, "down")
        cut = time.monotonic()
        result = subprocess.run(
            [*hosts.run_in(hosts.server), sys.executable, str(LOCATOR),
             "--naming", daemon.address, "--wait-gone", "10", "lab/remote"],
            capture_output=True, text=True, timeout=30, env=clean_env(),
        )
        assert result.returncode == 0, result.stdout + result.stderr
        # Gone within one lease period of the cut (the checker started after it).
        assert json.loads(result.stdout)["gone_after"] <= lease + 0.5
        assert time.monotonic() - cut < lease + 5

        daemon.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(10) == 0, daemon.stderr_text()
        assert daemon.rest().splitlines()[-1] == "orb-naming stopped"
    finally:
        for process in (binder, remote):
            if process is not None:
                process.stop()
        daemon.stop()
