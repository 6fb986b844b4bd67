"""The chat demo's member: a client-only broker that joins ``chat/lobby`` over mutual TLS.

``python member.py --tls-cert alice.pem --tls-key alice.key --tls-ca ca.pem``.
It finds the naming service by mDNS, resolves the room, prints
``connected`` and waits for the line ``/join`` on its standard input;
then it joins the room with a :class:`Member` object that the room calls
back over the member's own connection (the member listens on no port).
Each further line is said in the room; at the end of input it leaves and
exits. Exit status 3 means it could not get in.
"""

from __future__ import annotations

import argparse
import sys

from orb.security import add_tls_arguments, tls_from_args

import orb


@orb.expose
class Member:
    """What the room calls: it prints what it hears."""

    def __init__(self) -> None:
        self.name = "?"

    def hear(self, who: str, text: str) -> None:
        """Someone said ``text``."""
        self._print(f"<{who}> {text}")

    def notice(self, text: str) -> None:
        """Something happened in the room."""
        self._print(f"* {text}")

    def _print(self, text: str) -> None:
        # Calls arrive on worker threads: one write per line keeps lines whole.
        sys.stdout.write(f"[{self.name}] {text}\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as", dest="label", help="name to print before errors (default: the CN)")
    add_tls_arguments(parser)
    args = parser.parse_args(argv)
    me = Member()
    me.name = args.label or "member"
    with orb.ORB(tls=tls_from_args(args), timeout=10.0) as broker:  # client-only: no listener
        try:
            room = orb.resolve("chat/lobby")
            members = room.members()
        except orb.CommunicationError as exc:
            print(f"[{me.name}] cannot get in: {type(exc).__name__}: {exc}", flush=True)
            return 3
        print(f"[{me.name}] connected to chat/lobby ({len(members)} member(s) in it)", flush=True)
        print("connected", flush=True)
        if sys.stdin.readline().strip() != "/join":
            return 0
        welcome = room.join(me)
        me.name = welcome["you"]
        print(f"[{me.name}] joined chat/lobby over mutual TLS as {welcome['you']!r}; "
              f"members: {', '.join(welcome['members'])}; listening on {list(broker.endpoints)}",
              flush=True)
        for who, text in welcome["history"]:
            print(f"[{me.name}] (earlier) <{who}> {text}", flush=True)
        print("ready", flush=True)
        for line in sys.stdin:
            room.say(line.rstrip("\n"))
        room.leave()
    print(f"[{me.name}] left", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
