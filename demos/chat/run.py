"""A chat room over mutual TLS: ``python demos/chat/run.py``.

``orb certs`` makes a private CA and certificates in a temporary
directory. The naming daemon and the room server listen on ``tls://``
loopback ports and accept only clients with a certificate from that CA.
Members are client-only brokers (no listener): they join the room with a
callback object that the room calls over the connection they opened, and
the room knows who they are from their certificates. mDNS is pinned to
127.0.0.1; nothing leaves this machine.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demos/: the shared helpers

from _common import (
    Cast,
    Certificates,
    demo_env,
    make_certificates,
    run_demo,
    start_naming,
    stop_naming,
)
from tourkit import Steps, check

HERE = Path(__file__).resolve().parent
TIMEOUT = 20.0  # seconds for any one expected line


class Demo:
    def __init__(self, workdir: Path) -> None:
        self.cast = Cast(demo_env("chat"))
        self.workdir = workdir
        self.certs = Certificates(workdir / "orb-certs")

    def tls_options(self, name: str | None, certs: Certificates | None = None) -> list[str]:
        """The --tls-* options presenting ``name``'s certificate (None: no certificate)."""
        certs = certs or self.certs
        options = ["--tls-ca", str(self.certs.ca)]
        if name is not None:
            options[:0] = ["--tls-cert", str(certs.cert(name)), "--tls-key", str(certs.key(name))]
        return options

    def join(self, name: str) -> None:
        member = self.cast[name]
        member.send("/join")
        for line in member.read_until("ready", TIMEOUT):
            print(f"  {line}")

    def expect(self, wanted: dict[str, str | list[str]]) -> None:
        """Wait for each member's expected lines, in any order; print what they printed.

        Calls into a member run on its broker's worker threads, so lines
        that two different callers caused may come in either order.
        """
        for name, lines in wanted.items():
            missing = {lines} if isinstance(lines, str) else set(lines)
            while missing:
                for got in self.cast[name].expect(missing.__contains__, TIMEOUT):
                    print(f"  {got}")
                    missing.discard(got)

    def say(self, who: str, text: str, listeners: list[str], also: dict[str, str] | None = None) -> None:
        """``who`` types ``text``; every listener (``who`` included) should hear it.

        ``also`` adds one more line a listener should print by then.
        """
        print(f"  ({who} types) {text}")
        self.cast[who].send(text)
        wanted: dict[str, str | list[str]] = {}
        for name in listeners:
            heard = f"[{name}] <{who}> {text}"
            wanted[name] = [heard, also[name]] if also and name in also else heard
        self.expect(wanted)


stages: Steps[Demo] = Steps()


@stages.add("Make certificates with orb certs")
def certificates(demo: Demo) -> None:
    """A private certificate authority, a server certificate for 127.0.0.1
    (used by the naming daemon and the room) and one client certificate per
    member. The client's certificate name (CN) is its identity. mallory
    gets a certificate too, but from a CA of her own."""
    make_certificates(demo.certs.dir, ["alice", "bob", "carol"])
    make_certificates(demo.workdir / "rogue-certs", ["mallory"], ca_name="rogue CA", server=False)


@stages.add("Start the naming daemon over mutual TLS")
def naming(demo: Demo) -> None:
    """orb-naming listens on a tls:// endpoint and requires client
    certificates; its mDNS record says tls=1, so clients that find it dial
    TLS."""
    start_naming(demo.cast, "--listen", "tls://127.0.0.1:0", "--require-client-cert",
                 *demo.tls_options("server"))


@stages.add("Start the room")
def room(demo: Demo) -> None:
    """The room server listens on tls:// too and binds the room as chat/lobby.
    Its object reference is an orbs:// URI: it can only be reached over TLS."""
    server = demo.cast.start("room", str(HERE / "room.py"), "--require-client-cert",
                             *demo.tls_options("server"))
    for line in server.read_until("ready", TIMEOUT):
        print(f"  {line}")


@stages.add("Five people connect; two are turned away")
def connect(demo: Demo) -> None:
    """Each member process finds the naming service by mDNS, resolves
    chat/lobby and connects over TLS. mallory's certificate was signed by
    another CA and "anonymous" has none at all: the TLS handshake refuses
    both before any call is made (here already at the naming service)."""
    rogue = Certificates(demo.workdir / "rogue-certs")
    people = {name: demo.tls_options(name) for name in ("alice", "bob", "carol")}
    people["mallory"] = demo.tls_options("mallory", rogue)
    people["anonymous"] = demo.tls_options(None)
    for name, options in people.items():  # all at once: they start in parallel
        demo.cast.start(name, str(HERE / "member.py"), "--as", name, *options)
    for name in ("alice", "bob", "carol"):
        for line in demo.cast[name].read_until("connected", TIMEOUT):
            print(f"  {line}")
    for name in ("mallory", "anonymous"):
        process = demo.cast[name]
        lines = process.expect(lambda line: "cannot get in" in line, TIMEOUT)
        for line in lines:
            print(f"  {line}")
        status = process.popen.wait(TIMEOUT)
        check(status == 3, f"{name} should have been refused (exit status 3), got {status}")
        check("TLSError" in lines[-1], f"{name} should be refused by TLS: {lines[-1]}")


@stages.add("alice and bob join")
def join(demo: Demo) -> None:
    """A member joins with room.join(Member()). The Member object is passed
    by reference: the room keeps a proxy and calls hear() and notice() on it
    over the member's own TLS connection. Members listen on no port at all."""
    demo.join("alice")
    demo.join("bob")
    demo.expect({"alice": "[alice] * bob joined"})


@stages.add("A conversation")
def talk(demo: Demo) -> None:
    """room.say(text) takes no name: the room signs each message with the
    common name of the caller's certificate (orb.current().peer.identity),
    so nobody can speak as somebody else."""
    demo.say("alice", "hi bob", ["alice", "bob"])
    demo.say("bob", "hi alice! is carol coming?", ["alice", "bob"])


@stages.add("carol joins late")
def late(demo: Demo) -> None:
    """room.join() returns what was said before: carol reads the history."""
    demo.join("carol")
    demo.expect({"alice": "[alice] * carol joined", "bob": "[bob] * carol joined"})
    demo.say("carol", "hello both", ["alice", "bob", "carol"])


@stages.add("carol leaves, bob's process dies")
def leaving(demo: Demo) -> None:
    """carol's input ends: she calls room.leave() and exits. bob's process is
    killed with SIGKILL: he never says goodbye, so the room finds out when
    its next call to him fails, and tells the others."""
    carol = demo.cast["carol"]
    check(carol.stop() == 0, "carol should exit cleanly")
    for line in carol.drain():
        print(f"  {line}")
    demo.expect({"alice": "[alice] * carol left", "bob": "[bob] * carol left"})
    bob = demo.cast["bob"]
    bob.kill()
    print(f"  kill -9 {bob.pid}   (bob)")
    demo.say("alice", "bob? are you there?", ["alice"],
             also={"alice": "[alice] * bob was disconnected"})


@stages.add("Stop")
def stop(demo: Demo) -> None:
    """alice leaves; the room unbinds chat/lobby as it stops; the naming
    daemon stops."""
    alice = demo.cast["alice"]
    check(alice.stop() == 0, "alice should exit cleanly")
    for line in alice.drain():
        print(f"  {line}")
    status = demo.cast["room"].stop()
    check(status == 0, f"the room exited with status {status}")
    print(f"  room stopped cleanly (exit status {status})")
    stop_naming(demo.cast["orb-naming"])


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="orb-chat-") as workdir:
        return run_demo(
            "orb demo: chat over mutual TLS",
            """A chat room found through the naming service, members that receive
            messages through callback objects, and mutual TLS with certificates
            made by `orb certs`: the room knows who speaks from their
            certificates.""",
            stages, Demo(Path(workdir)),
            "Everyone was who their certificate said, and strangers stayed out.",
        )


if __name__ == "__main__":
    sys.exit(main())
