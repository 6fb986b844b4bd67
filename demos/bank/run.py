"""A bank whose accounts check who is calling: ``python demos/bank/run.py``.

``orb certs`` makes a CA and client certificates for alice, bob and a
teller in a temporary directory. The bank server (demos/bank/server.py)
listens on a ``tls://`` loopback port and requires a client certificate;
its accounts are remote objects, and an authorization policy decides per
call from the caller's certificate: the owner and a teller may read an
account, only the owner may take money out. This process plays the three
customers, each with a broker of its own presenting its own certificate.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demos/: the shared helpers

from _common import Cast, Certificates, demo_env, make_certificates, run_demo
from tourkit import Steps, check

import orb

HERE = Path(__file__).resolve().parent
TIMEOUT = 20.0
PEOPLE = ("alice", "bob", "teller")


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.cast = Cast(demo_env("bank"))
        self.certs = Certificates(workdir / "orb-certs")
        self.uri = ""
        self.brokers: dict[str, orb.ORB] = {}
        self.banks: dict[str, orb.Proxy] = {}  # the bank, as each person's broker reaches it

    def bank(self, who: str) -> orb.Proxy:
        """The bank seen by ``who``: a proxy carried by a broker with ``who``'s certificate."""
        if who not in self.banks:
            broker = self.brokers[who] = orb.ORB(tls=self.certs.tls(who), timeout=10.0)
            self.banks[who] = broker.proxy(self.uri)
        return self.banks[who]

    def close(self) -> None:
        for broker in self.brokers.values():
            broker.close()

    def attempt(self, who: str, text: str, call: Callable[[], Any], refused: bool = False) -> Any:
        """Show ``who`` running ``text``; check it is refused (or not) with orb.AccessDenied."""
        print(f"  {who + ':':<7} >>> {text}")
        try:
            value = call()
        except orb.AccessDenied as exc:
            wrapped = textwrap.wrap(f"orb.AccessDenied: {exc}", 62)
            print("\n".join(f"           {line}" for line in wrapped))
            check(refused, f"{text} as {who} should not have been refused")
            line = self.cast["bank"].expect(lambda text: text.startswith("[bank log]"), TIMEOUT)[-1]
            print("\n".join(f"           {part}" for part in textwrap.wrap(line, 62)))
            return exc
        print(f"           {value!r}")
        check(not refused, f"{text} as {who} should have been refused with orb.AccessDenied")
        return value


stages: Steps[Demo] = Steps()


@stages.add("Make certificates with orb certs")
def certificates(demo: Demo) -> None:
    """A private CA, a server certificate for the bank, and one client
    certificate per person. The certificate's common name is who you are
    to the bank."""
    make_certificates(demo.certs.dir, PEOPLE)


@stages.add("Open the bank")
def open_bank(demo: Demo) -> None:
    """The bank listens on tls:// and requires client certificates. It has
    two accounts, alice's (100) and bob's (50), and logs every refused call
    with the caller's identity (those lines start with [bank log])."""
    server = demo.cast.start(
        "bank", str(HERE / "server.py"), "--require-client-cert",
        "--tls-cert", str(demo.certs.cert("server")), "--tls-key", str(demo.certs.key("server")),
        "--tls-ca", str(demo.certs.ca),
    )
    demo.uri = server.read_until("ready", TIMEOUT)[0]
    print(f"  the bank is at {demo.uri}")


@stages.add("alice uses her account")
def alice(demo: Demo) -> None:
    """bank.account() hands out a reference to an account; every call on it
    is checked against the caller's certificate. alice owns this one."""
    account = demo.attempt("alice", 'account = bank.account("alice")',
                           lambda: demo.bank("alice").account("alice"))
    demo.attempt("alice", "account.balance", lambda: account.balance)
    check(demo.attempt("alice", "account.withdraw(30)", lambda: account.withdraw(30)) == 70,
          "alice should have 70 left")


@stages.add("The teller may read, and may not withdraw")
def teller(demo: Demo) -> None:
    """Bank.accounts() carries an allow-list, @allow("teller"). On accounts,
    the bank's policy lets a teller read and pay in, but taking money out
    is for the owner only."""
    bank = demo.bank("teller")
    check(demo.attempt("teller", "bank.accounts()", bank.accounts) == {"alice": 70, "bob": 50},
          "the teller should see every balance")
    account = bank.account("alice")
    demo.attempt("teller", 'account = bank.account("alice"); account.deposit(20)',
                 lambda: account.deposit(20))
    demo.attempt("teller", "account.withdraw(10)", lambda: account.withdraw(10), refused=True)


@stages.add("bob may not touch alice's account")
def bob(demo: Demo) -> None:
    """bob may hold a reference to alice's account (a reference is only an
    address), but the bank refuses every call he makes on it (reading a
    property is the call __orb_getattr__), and he is not on the allow-list
    of Bank.accounts()."""
    bank = demo.bank("bob")
    account = bank.account("alice")
    demo.attempt("bob", 'bank.account("alice").balance', lambda: account.balance, refused=True)
    demo.attempt("bob", 'bank.account("alice").withdraw(90)', lambda: account.withdraw(90),
                 refused=True)
    demo.attempt("bob", "bank.accounts()", bank.accounts, refused=True)


@stages.add("alice pays bob")
def transfer(demo: Demo) -> None:
    """alice passes a reference to bob's account as an argument. She cannot
    read it, but the bank can: the reference arrives back home as the
    bank's own Account object, and the money moves. A plain error of the
    servant (too little money) still arrives as its own type."""
    bank = demo.bank("alice")
    account = bank.account("alice")
    demo.attempt("alice", 'account.transfer(25, to=bank.account("bob"))',
                 lambda: account.transfer(25, to=bank.account("bob")))
    check(demo.attempt("bob", 'bank.account("bob").balance',
                       lambda: demo.bank("bob").account("bob").balance) == 75,
          "bob should have 75")
    print(f"  {'alice:':<7} >>> account.withdraw(1000)")
    try:
        account.withdraw(1000)
    except ValueError as exc:
        print(f"           ValueError: {exc}")
    else:
        check(False, "withdrawing 1000 should raise ValueError")


@stages.add("alice's statement")
def statement(demo: Demo) -> None:
    """Each movement records who made it: the common name of the
    certificate of the caller, as the TLS handshake verified it."""
    entries = demo.bank("alice").account("alice").statement()
    print(f"  {'alice:':<7} >>> account.statement()")
    for entry in entries:
        print(f"           {entry['what']:<16} {entry['amount']:>5}   by {entry['by']}")
    check([e["by"] for e in entries] == ["bank", "alice", "teller", "alice"],
          f"unexpected statement {entries}")
    check(sum(e["amount"] for e in entries) == 65, "the movements should add up to 65")


@stages.add("Close the bank")
def close(demo: Demo) -> None:
    """The customers' brokers close, then the bank's."""
    demo.close()
    status = demo.cast["bank"].stop()
    check(status == 0, f"the bank exited with status {status}")
    print(f"  the bank stopped cleanly (exit status {status})")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="orb-bank-") as workdir:
        demo = Demo(Path(workdir))
        try:
            return run_demo(
                "orb demo: a bank that knows who is calling",
                """Accounts are remote objects. The bank knows each caller from the
                client certificate they presented over mutual TLS, and its
                authorization policy refuses calls with orb.AccessDenied.""",
                stages, demo,
                "Every call the rules forbid was refused, and every other one went through.",
            )
        finally:
            demo.close()


if __name__ == "__main__":
    sys.exit(main())
