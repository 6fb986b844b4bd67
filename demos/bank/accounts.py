"""The bank's objects and its rules: who may call what on an account.

Two mechanisms decide (see :mod:`orb.security`):

* an allow-list, ``@allow("teller")`` on :meth:`Bank.accounts`;
* a policy, :func:`authorize`, given to ``orb.ORB(authorize=...)``: the
  owner of an account and a teller may read it and pay into it, only the
  owner may take money out.

Identities are the common names of client certificates, as the TLS
handshake verified them (``orb.current().peer.identity``).
"""

from __future__ import annotations

from typing import Any

from orb.security import allow

import orb

TELLERS = frozenset({"teller"})
OWNER_ONLY = frozenset({"withdraw", "transfer"})


def caller() -> str:
    return orb.current().peer.identity.common_name


@orb.expose
class Account:
    """One customer's money."""

    def __init__(self, owner: str, balance: int) -> None:
        self.owner = owner
        self._balance = balance
        self._entries: list[dict[str, Any]] = [{"what": "opened", "amount": balance, "by": "bank"}]

    @property
    def balance(self) -> int:
        """The balance, in whole coins."""
        return self._balance

    def statement(self) -> list[dict[str, Any]]:
        """Every movement, with who made it (their certificate name)."""
        return list(self._entries)

    def deposit(self, amount: int) -> int:
        """Pay ``amount`` in; the new balance."""
        return self._move("deposit", _positive(amount))

    def withdraw(self, amount: int) -> int:
        """Take ``amount`` out; the new balance. Raises ValueError beyond the balance."""
        return self._move("withdrawal", -_positive(amount))

    def transfer(self, amount: int, to: Account) -> int:
        """Move ``amount`` to another account of this bank; the new balance."""
        if not isinstance(to, Account):  # a proxy to this server's account comes home as itself
            raise TypeError("can only transfer to an account of this bank")
        balance = self._move(f"transfer to {to.owner}", -_positive(amount))
        to._move(f"transfer from {self.owner}", amount)
        return balance

    def _move(self, what: str, amount: int) -> int:
        if self._balance + amount < 0:
            raise ValueError(f"insufficient funds: balance {self._balance}, asked for {-amount}")
        self._balance += amount
        self._entries.append({"what": what, "amount": amount, "by": _who()})
        return self._balance


def _who() -> str:
    try:
        return caller()
    except RuntimeError:  # called inside this process (the other half of a transfer)
        return "bank"


def _positive(amount: int) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive whole number, not {amount!r}")
    return amount


@orb.expose
class Bank:
    """The way in: look up accounts by owner."""

    def __init__(self, accounts: dict[str, Account]) -> None:
        self._accounts = accounts

    def account(self, owner: str) -> Account:
        """The account of ``owner`` (a reference: what the caller may do with it is checked per call)."""
        try:
            return self._accounts[owner]
        except KeyError:
            raise LookupError(f"no account for {owner!r}") from None

    @allow("teller")
    def accounts(self) -> dict[str, int]:
        """Every account's balance (tellers only)."""
        return {owner: account.balance for owner, account in self._accounts.items()}


def authorize(peer: orb.Peer, obj: Any, method: str) -> bool:
    """The bank's rules for accounts; everything else is left to allow-lists."""
    if not isinstance(obj, Account) or method == "__orb_describe__":
        return True  # other objects have allow-lists; an interface is no secret
    who = peer.identity.common_name if peer.identity is not None else None
    if method in OWNER_ONLY:
        return who == obj.owner
    return who == obj.owner or who in TELLERS  # reading (properties too) and paying in
