"""demos/bank: accounts authorized by client certificate identity, refusals as orb.AccessDenied."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from demo_run import run_demo


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_bank_demo_lets_owners_withdraw_and_tellers_only_read(tmp_path: Path) -> None:
    out = run_demo("bank/run.py", tmp_path, timeout=45)
    assert "the bank is at orbs://127.0.0.1:" in out
    # The owner reads and withdraws.
    assert "alice:  >>> account.withdraw(30)\n           70\n" in out
    # The teller reads everything (allow-list) and pays in, but may not withdraw.
    assert "teller: >>> bank.accounts()\n           {'alice': 70, 'bob': 50}\n" in out
    refusals = re.findall(r"^  (\w+): +>>> (.*)\n +orb\.AccessDenied: access denied: (\w+) ",
                          out, re.MULTILINE)
    assert refusals == [
        ("teller", "account.withdraw(10)", "teller"),
        ("bob", 'bank.account("alice").balance', "bob"),
        ("bob", 'bank.account("alice").withdraw(90)', "bob"),
        ("bob", "bank.accounts()", "bob"),
    ]
    # Each refusal was logged by the server with the caller's identity.
    assert len(re.findall(r"\[bank log\] access denied: (teller|bob) \(127\.0\.0\.1:", out)) == 4
    # A reference passed back home moved the money; servant errors keep their type.
    assert "bob:    >>> bank.account(\"bob\").balance\n           75\n" in out
    assert "ValueError: insufficient funds: balance 65, asked for 1000" in out
    assert re.search(r"deposit +20 +by teller", out)
    assert "the bank stopped cleanly (exit status 0)" in out
