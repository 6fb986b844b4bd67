"""The ``orb`` command over TLS: a naming daemon that requires client certificates."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from orb.security import CertificateAuthority

from orb._cli import main

from .support import NamingDaemon, clean_env, orb_command


@attrs.frozen
class Files:
    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Files:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files."""
    directory = tmp_path_factory.mktemp("cli-pki")
    ca = CertificateAuthority.create("cli test CA")
    ca.save(directory / "ca.pem", directory / "ca.key")
    ca.issue_server(["localhost"], ["127.0.0.1"]).save(directory / "server.pem", directory / "server.key")
    ca.issue_client("alice").save(directory / "alice.pem", directory / "alice.key")
    return Files(
        ca=str(directory / "ca.pem"),
        server_cert=str(directory / "server.pem"), server_key=str(directory / "server.key"),
        client_cert=str(directory / "alice.pem"), client_key=str(directory / "alice.key"),
    )


@pytest.fixture(scope="module")
def tls_naming(pki: Files) -> Iterator[NamingDaemon]:
    """A naming daemon on tls://127.0.0.1 that requires client certificates."""
    daemon = NamingDaemon(
        "--no-mdns", "--tls-cert", pki.server_cert, "--tls-key", pki.server_key,
        "--tls-ca", pki.ca, "--require-client-cert", listen="tls://127.0.0.1:0",
    )
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture(autouse=True)
def _environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ORB_NAMING", "ORB_TLS_CERT", "ORB_TLS_KEY", "ORB_TLS_CA",
                 "ORB_TLS_REQUIRE_CLIENT_CERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ORB_MDNS_INTERFACES", "127.0.0.1")


def orb(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ping_over_mutual_tls(capsys: pytest.CaptureFixture[str], pki: Files, tls_naming: NamingDaemon) -> None:
    code, out, err = orb(
        capsys, "ping", "--naming", tls_naming.endpoint,
        "--tls-cert", pki.client_cert, "--tls-key", pki.client_key, "--tls-ca", pki.ca,
    )
    assert (code, err) == (0, "")
    assert out.startswith(f"naming service at {tls_naming.endpoint} (from --naming) is alive")


def test_tls_options_come_from_the_environment_too(
    capsys: pytest.CaptureFixture[str], pki: Files, tls_naming: NamingDaemon,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ORB_TLS_CERT", pki.client_cert)
    monkeypatch.setenv("ORB_TLS_KEY", pki.client_key)
    monkeypatch.setenv("ORB_TLS_CA", pki.ca)
    monkeypatch.setenv("ORB_NAMING", tls_naming.endpoint)
    assert orb(capsys, "ls") == (0, "", "")


@pytest.mark.parametrize("leave_out", ["client certificate", "CA"])
def test_tls_failures_are_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], pki: Files, tls_naming: NamingDaemon, leave_out: str
) -> None:
    options = {
        "client certificate": ["--tls-ca", pki.ca],
        "CA": ["--tls-cert", pki.client_cert, "--tls-key", pki.client_key],
    }[leave_out]
    code, out, err = orb(capsys, "ping", "--naming", tls_naming.endpoint, *options)
    assert (code, out) == (3, "")
    assert err.startswith("orb: ") and err.count("\n") == 1 and "Traceback" not in err


def test_a_missing_certificate_file_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = orb(capsys, "ping", "--naming", "tls://127.0.0.1:1", "--tls-ca", str(tmp_path / "no.pem"))
    assert code == 2
    assert err == f"orb: bad TLS options: --tls-ca {tmp_path / 'no.pem'}: no such file\n"


def test_repl_over_mutual_tls(pki: Files, tls_naming: NamingDaemon) -> None:
    env = clean_env(
        ORB_TLS_CERT=pki.client_cert, ORB_TLS_KEY=pki.client_key,
        ORB_REPL_HISTORY=os.devnull,
    )
    result = subprocess.run(
        [*orb_command(), "repl", "--naming", tls_naming.endpoint, "--tls-ca", pki.ca],
        input="ls()\nstats()['connections'][0]['peer']\n", capture_output=True, text=True,
        env=env, timeout=30, check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == f"naming service: {tls_naming.endpoint} (from --naming), 0 binding(s)"
    assert lines[-2:] == ["(no names)", f"'{tls_naming.address}'"]
