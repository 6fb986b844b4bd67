"""demos/chat: a room over mutual TLS, callbacks into client-only members, strangers refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_run import run_demo


@pytest.mark.slow
@pytest.mark.timeout(90)
def test_chat_demo_signs_messages_by_certificate_and_refuses_strangers(tmp_path: Path) -> None:
    out = run_demo("chat/run.py", tmp_path, timeout=75)
    # Certificates came from the orb certs command.
    assert "$ orb certs init-ca --dir " in out
    assert "Issued a client certificate for 'alice' signed by 'demo CA'" in out
    assert "Issued a client certificate for 'mallory' signed by 'rogue CA'" in out
    # Naming and room over TLS; members are client-only and named by their certificates.
    assert "orb-naming listening on tls://127.0.0.1:" in out
    assert "room chat/lobby at orbs://127.0.0.1:" in out
    assert "[alice] joined chat/lobby over mutual TLS as 'alice'; members: alice; listening on []" in out
    # Callbacks: every member hears every message, signed with the sender's certificate name.
    for member in ("alice", "bob"):
        assert f"[{member}] <alice> hi bob" in out
        assert f"[{member}] <carol> hello both" in out
    assert "[carol] (earlier) <alice> hi bob" in out
    # Strangers: another CA's certificate, and no certificate at all.
    assert "[mallory] cannot get in: TLSError:" in out and "does not trust the CA" in out
    assert "[anonymous] cannot get in: TLSError:" in out and "requires a client certificate" in out
    # A member that left, one that died.
    assert "[bob] * carol left" in out
    assert "[alice] * bob was disconnected" in out
    assert "orb-naming stopped cleanly (exit status 0)" in out
