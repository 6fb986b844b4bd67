"""``orb certs`` and the certificate maker: files, permissions, validity, output, and they work."""

from __future__ import annotations

import argparse
import datetime
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from orb.security import CertificateAuthority, TLSConfig, add_tls_arguments, tls_from_args

import orb
from orb._cli import main as orb_main

from ._procs import clean_env


def _certs(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    status = orb_main(["certs", *args])
    out, err = capsys.readouterr()
    return status, out, err


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def made(tmp_path: Path, capsys: pytest.CaptureFixture) -> Path:
    """A directory where init-ca, issue-server and issue-client have run."""
    directory = tmp_path / "certs"
    assert _certs(capsys, "init-ca", "--dir", str(directory))[0] == 0
    assert _certs(capsys, "issue-server", "--dir", str(directory), "--host", "localhost",
                  "--host", "calc.example", "--ip", "127.0.0.1", "--ip", "::1")[0] == 0
    assert _certs(capsys, "issue-client", "--dir", str(directory), "--name", "alice")[0] == 0
    return directory


def test_the_three_commands_write_certificates_and_private_keys(made: Path) -> None:
    names = sorted(p.name for p in made.iterdir())
    assert names == ["alice.key", "alice.pem", "ca.key", "ca.pem", "server.key", "server.pem"]
    for key in ("ca.key", "server.key", "alice.key"):
        assert _mode(made / key) == 0o600, key
        assert b"PRIVATE KEY" in (made / key).read_bytes()
    for cert in ("ca.pem", "server.pem", "alice.pem"):
        assert _mode(made / cert) == 0o644, cert


def test_keys_are_0600_whatever_the_umask(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    old = os.umask(0)
    try:
        assert _certs(capsys, "init-ca", "--dir", str(tmp_path))[0] == 0
    finally:
        os.umask(old)
    assert _mode(tmp_path / "ca.key") == 0o600


def test_certificates_say_what_they_are_for(made: Path) -> None:
    ca, server, client = (_load(made / f) for f in ("ca.pem", "server.pem", "alice.pem"))
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "calc.example"]
    assert [str(a) for a in sans.get_values_for_type(x509.IPAddress)] == ["127.0.0.1", "::1"]
    usages = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages
    assert client.subject.rfc4514_string() == "CN=alice"
    assert list(client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    for cert in (server, client):
        assert cert.issuer == ca.subject


def test_validity_is_sensible_and_adjustable(made: Path, capsys: pytest.CaptureFixture) -> None:
    def days(cert: x509.Certificate) -> float:
        return (cert.not_valid_after_utc - cert.not_valid_before_utc).total_seconds() / 86400

    now = datetime.datetime.now(datetime.UTC)
    ca, client = _load(made / "ca.pem"), _load(made / "alice.pem")
    assert 3649 < days(ca) < 3651 and 364 < days(client) < 366
    assert client.not_valid_before_utc <= now  # usable at once, despite small clock skew
    assert _certs(capsys, "issue-client", "--dir", str(made), "--name", "temp", "--days", "7")[0] == 0
    assert 6.9 < days(_load(made / "temp.pem")) < 7.1


def test_the_output_says_what_was_made_and_how_to_use_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    directory = str(tmp_path)
    _, out, _ = _certs(capsys, "init-ca", "--dir", directory, "--name", "Lab CA")
    assert "Created certificate authority 'Lab CA'" in out
    assert f"{directory}/ca.key" in out and "0600" in out and "sha256" in out
    _, out, _ = _certs(capsys, "issue-server", "--dir", directory, "--host", "lab.example", "--ip", "10.1.2.3")
    assert "names        DNS:lab.example, IP:10.1.2.3" in out
    assert "--tls-cert" in out and "--require-client-cert" in out
    _, out, _ = _certs(capsys, "issue-client", "--dir", directory, "--name", "ops team")
    assert "common_name == 'ops team'" in out and "ops_team.pem" in out
    _, out, _ = _certs(capsys, "show", f"{directory}/ops_team.pem")
    assert "CN=ops team" in out and "days left" in out


def test_existing_files_are_kept_unless_forced(made: Path, capsys: pytest.CaptureFixture) -> None:
    before = (made / "ca.key").read_bytes()
    status, _, err = _certs(capsys, "init-ca", "--dir", str(made))
    assert status == 1 and "already exist" in err and "--force" in err
    assert (made / "ca.key").read_bytes() == before
    assert _certs(capsys, "init-ca", "--dir", str(made), "--force")[0] == 0
    assert (made / "ca.key").read_bytes() != before
    assert _mode(made / "ca.key") == 0o600


def test_mistakes_are_explained(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    status, _, err = _certs(capsys, "issue-client", "--dir", str(tmp_path), "--name", "x")
    assert status == 1 and "init-ca" in err
    status, _, err = _certs(capsys, "issue-server", "--dir", str(tmp_path))
    assert status == 2 and "--host or --ip" in err
    assert _certs(capsys, "init-ca", "--dir", str(tmp_path))[0] == 0
    status, _, err = _certs(capsys, "issue-server", "--dir", str(tmp_path), "--ip", "not-an-ip")
    assert status == 2 and "not-an-ip" in err
    with pytest.raises(ValueError, match="is not the key of"):
        other = CertificateAuthority.create()
        other.save(tmp_path / "other.pem", tmp_path / "other.key")
        CertificateAuthority.load(tmp_path / "ca.pem", tmp_path / "other.key")


def test_an_expired_certificate_shows_as_expired(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    ca = CertificateAuthority.create()
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=1)
    ca.issue_client("old", not_after=past).save(tmp_path / "old.pem", tmp_path / "old.key")
    _, out, _ = _certs(capsys, "show", str(tmp_path / "old.pem"))
    assert "EXPIRED" in out


def test_the_files_made_by_orb_certs_carry_a_mutual_tls_call(made: Path) -> None:
    @orb.expose
    class Who:
        def name(self) -> str:
            return orb.current().peer.identity.common_name

    server_tls = TLSConfig(cert=made / "server.pem", key=made / "server.key", ca=made / "ca.pem",
                           require_client_cert=True)
    client_tls = TLSConfig(cert=made / "alice.pem", key=made / "alice.key", ca=made / "ca.pem")
    with orb.ORB(listen="tls://[::1]:0", tls=server_tls) as server, orb.ORB(tls=client_tls) as client:
        assert client.proxy(str(server.export(Who())), timeout=5).name() == "alice"


def test_the_orb_console_script_has_certs(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "orb._cli", "certs", "init-ca", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=clean_env(), cwd=str(tmp_path), check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "ca.pem").exists()


def test_cli_tls_options_fall_back_to_the_environment(made: Path) -> None:
    parser = argparse.ArgumentParser()
    add_tls_arguments(parser)
    assert tls_from_args(parser.parse_args([]), environ={}) is None
    env = {"ORB_TLS_CERT": str(made / "alice.pem"), "ORB_TLS_KEY": str(made / "alice.key"),
           "ORB_TLS_CA": str(made / "ca.pem"), "ORB_TLS_REQUIRE_CLIENT_CERT": "yes"}
    config = tls_from_args(parser.parse_args([]), environ=env)
    assert config == TLSConfig(cert=made / "alice.pem", key=made / "alice.key", ca=made / "ca.pem",
                               require_client_cert=True)
    config = tls_from_args(parser.parse_args(["--tls-cert", str(made / "server.pem"),
                                              "--tls-key", str(made / "server.key")]), environ=env)
    assert config.cert == str(made / "server.pem") and config.ca == str(made / "ca.pem")
    with pytest.raises(ValueError, match="no such file"):
        tls_from_args(parser.parse_args(["--tls-ca", str(made / "missing.pem")]), environ={})
