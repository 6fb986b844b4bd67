"""The tour's client process: calls the server's objects and explains what happens.

Run by demos/tour.py with one ``name=uri`` argument per object the server
exported, plus ``secure=<orbs:// URI of the inspector>`` and
``certs=<directory made by orb certs>`` for the mutual TLS step. Each step
below is one thing orb does; the process exits 0 when every step showed
what it should, 1 otherwise.
"""

from __future__ import annotations

import gc
import io
import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass

import orb.naming
from tourkit import Steps, block, check, say, show

import orb

CALL_TIMEOUT = 10.0  # seconds; no call in the tour may hang


@dataclass
class Client:
    """What every step gets: this process's broker and proxies for the server's objects."""

    broker: orb.ORB
    uris: dict[str, str]
    calc: orb.Proxy
    ticker: orb.Proxy
    inspector: orb.Proxy


steps: Steps[Client] = Steps()


@orb.expose
class TickListener:
    """Receives ticks from the server (lives in the client process)."""

    def __init__(self) -> None:
        self.ticks: list[int] = []

    def tick(self, n: int, of: int) -> int:
        """Record tick n and answer with n * 10."""
        self.ticks.append(n)
        caller = orb.current().peer.address
        print(f"      [client] tick {n} of {of}, called by the server ({caller}) "
              f"on thread {threading.current_thread().name!r}")
        return n * 10


@orb.expose
class Greeter:
    """Says hello (lives in the client process)."""

    def greet(self, who: str) -> str:
        """A greeting for ``who``."""
        return f"hello {who}, from the client's Greeter"


@steps.add("Finding objects by name")
def by_name(c: Client) -> None:
    """The naming service was found by mDNS (no address was configured:
    ORB_NAMING is unset). The server bound its objects under tour/; names
    are hierarchical, and listing a context shows its children."""
    service = orb.naming.naming_proxy()
    print(f"  naming service found by mDNS at {orb.ref(service)}")
    names = [entry["name"] for entry in service.list("tour/")]
    show('[e["name"] for e in naming.list("tour/")]', names)
    check(names == ["tour/calculator", "tour/inspector", "tour/ticker"],
          f"unexpected names {names}")
    calc = show('orb.resolve("tour/calculator")', orb.resolve("tour/calculator"))
    check(calc == c.calc, "the name should resolve to the calculator")


@steps.add("Plain calls")
def plain_calls(c: Client) -> None:
    """A proxy looks like the object: its methods run in the server process;
    arguments and results travel by value (msgpack). Properties can be read
    too."""
    check(show("calc.add(2, 3)", c.calc.add(2, 3)) == 5, "2 + 3 should be 5")
    check(show("calc.add(41)          # b defaults to 1 on the server", c.calc.add(41)) == 42,
          "the default argument should apply")
    check(show("calc.accumulate([1.5, 2.5])", c.calc.accumulate([1.5, 2.5])) == 4.0,
          "the running total should be 4.0")
    check(show("calc.total            # a property, read remotely", c.calc.total) == 4.0,
          "the total property should read 4.0")


@steps.add("A callback into the client")
def callback(c: Client) -> None:
    """This client's broker does not listen on any port. It passes an exposed
    TickListener to ticker.run(); the server calls listener.tick() back over
    the connection the client opened, while the client's own call is still
    waiting for its reply."""
    listener = TickListener()
    print("  >>> ticker.run(TickListener(), 3)")
    total = c.ticker.run(listener, 3)
    print(f"  {total!r}")
    check(listener.ticks == [1, 2, 3], f"expected ticks [1, 2, 3], got {listener.ticks}")
    check(total == 60, f"expected the listener's replies to add up to 60, got {total}")
    check(not c.broker.endpoints, "the client's broker should not listen anywhere")
    print(f"  client broker endpoints: {list(c.broker.endpoints)}  (none: callbacks need no listener)")


@steps.add("Passing an object by reference")
def by_reference(c: Client) -> None:
    """Plain data is copied, but an exposed object is passed by reference: the
    server receives a proxy for it, and calls on that proxy run here. When a
    proxy travels back home it becomes the original object again."""
    greeter = Greeter()
    report = c.inspector.examine(greeter)
    print("  >>> inspector.examine(Greeter())")
    print("  the server reports:")
    for key, value in report.items():
        print(f"    {key:<12} {value}")
    check(report["is_proxy"] is True, "the server should have received a proxy")
    check(report["type"] == "orb.Proxy", f"the server saw a {report['type']}, not an orb.Proxy")
    check(report["greeting"] == greeter.greet("server"), "the server's call should reach the Greeter")
    back = c.inspector.echo(greeter)
    check(show("inspector.echo(greeter) is greeter", back is greeter) is True,
          "the reference should come home as the original object")


@steps.add("An object exported on the fly, and collected")
def collected(c: Client) -> None:
    """calc.memory() returns a new Memory object by reference: the server
    exports it on the fly, and this broker takes a lease on it (renewed in
    the background). When the last proxy here is garbage collected, this
    broker tells the server, whose distributed GC unexports the object.
    Objects exported explicitly or by name are pinned and never collected."""
    before = show("inspector.objects()          # from the server's broker.stats()",
                  c.inspector.objects())
    memory = c.calc.memory()
    memory.store(42)
    show("memory = calc.memory(); memory.store(42); memory.recall()", memory.recall())
    held = show("inspector.objects()", c.inspector.objects())
    check(held["implicit"] == before["implicit"] + 1, "the memory should be exported implicitly")
    del memory
    gc.collect()
    print("  >>> del memory")
    deadline = time.monotonic() + 10
    after = c.inspector.objects()
    while after["implicit"] != before["implicit"] and time.monotonic() < deadline:
        time.sleep(0.05)  # the release travels to the server in the background
        after = c.inspector.objects()
    show("inspector.objects()", after)
    check(after["implicit"] == before["implicit"], "the memory should have been collected")
    check(after["collected"] == held["collected"] + 1, "the server should count one collection")


@steps.add("A remote exception")
def remote_exception(c: Client) -> None:
    """An exception raised by the servant is raised again in the caller, as
    its own type when that is a builtin (or registered) type. The server's
    traceback travels with it (exc.remote_traceback) and prints above the
    local one, just as an uncaught exception would show it."""
    print("  >>> calc.divide(1, 0)")
    try:
        c.calc.divide(1, 0)
    except ZeroDivisionError as exc:
        block("".join(traceback.format_exception(exc)))
        check("return a / b" in getattr(exc, "remote_traceback", ""),
              "the remote traceback should show the failing line on the server")
    else:
        check(False, "dividing by zero should have raised ZeroDivisionError")
    print()
    say("""An exception type this side does not know arrives as orb.RemoteError,
        carrying the remote type's name:""", indent=2)
    print()
    try:
        c.calc.sqrt(-4)
    except orb.RemoteError as exc:
        print("  >>> calc.sqrt(-4)")
        block("".join(traceback.format_exception_only(exc)), indent=2)
        show("exc.remote_type", exc.remote_type)
        show("exc.remote_traceback.splitlines()[-1]", exc.remote_traceback.splitlines()[-1])
        check(exc.remote_type.endswith("NegativeNumber"), f"unexpected remote type {exc.remote_type}")
    else:
        check(False, "sqrt(-4) should have raised orb.RemoteError")


@steps.add("Describing a remote interface")
def describe(c: Client) -> None:
    """orb.describe() asks the object what it offers: its type, docstring,
    methods with signatures and docstrings, and properties. Proxies use the
    same description for dir(), tab completion and help()."""
    for name in ("calc", "ticker"):
        iface = orb.describe(getattr(c, name))
        print(f"  >>> orb.describe({name})")
        print(f"  {iface.type_name}: {iface.doc}")
        for method in iface.methods:
            flag = "  (one-way)" if method.oneway else ""
            print(f"    {method.name}{method.signature}{flag}")
            summary = method.doc.splitlines()[0] if method.doc else "(no docstring)"
            print(f"        {summary}")
        for prop in iface.properties:
            access = "read/write" if prop.writable else "read-only"
            print(f"    property {prop.name} ({access}): {prop.doc}")
        print()
    calc_iface = orb.describe(c.calc)
    add = calc_iface.method("add")
    check(add is not None and add.signature == "(a: float, b: float = 1) -> float",
          f"unexpected signature for add: {add and add.signature}")
    check(calc_iface.property("total") is not None, "total should be described as a property")
    show("dir(calc)", dir(c.calc))


@steps.add("Invoking a method by name")
def invoke(c: Client) -> None:
    """orb.invoke() calls a method whose name is only known at run time, on a
    proxy or straight from a URI string; here the names come from the
    interface description."""
    for method in orb.describe(c.calc).methods:
        if method.name in ("add", "divide", "sqrt"):
            args = (16,) if method.name == "sqrt" else (10, 4)
            shown = ", ".join(map(repr, args))
            show(f'orb.invoke(calc, "{method.name}", {shown})', orb.invoke(c.calc, method.name, *args))
    uri = c.uris["calculator"]
    result = show(f'orb.invoke("{uri[:24]}...", "add", 1, 2)', orb.invoke(uri, "add", 1, 2))
    check(result == 3, f"invoking add by name from the URI should give 3, got {result}")
    check(orb.invoke(c.calc, "divide", 10, 4) == 2.5, "divide by name should give 2.5")


@steps.add("Mutual TLS")
def mutual_tls(c: Client) -> None:
    """The server also listens on a tls:// port that requires a client
    certificate (made with `orb certs` by the tour). A second broker in this
    process presents the certificate issued to "tour-client"; the servant
    sees that identity in orb.current().peer.identity. A broker without a
    certificate is refused during the TLS handshake."""
    certs = c.uris.get("certs", "")
    secure = c.uris.get("secure", "")
    check(certs and secure, "the tour passes certs= and secure= for this step")
    from orb.security import TLSConfig, TLSError

    def tls(name: str | None) -> TLSConfig:
        ca = os.path.join(certs, "ca.pem")
        if name is None:
            return TLSConfig(ca=ca)
        return TLSConfig(cert=os.path.join(certs, f"{name}.pem"),
                         key=os.path.join(certs, f"{name}.key"), ca=ca)

    print('  >>> with orb.ORB(tls=TLSConfig(cert="tour-client.pem", key=..., ca="ca.pem")) as b:')
    with orb.ORB(tls=tls("tour-client"), timeout=CALL_TIMEOUT) as secure_broker:
        inspector = secure_broker.proxy(secure)
        print(f"  ...     b.proxy(\"{secure[:26]}...\").whoami()")
        answer = inspector.whoami()
        print(f"  {answer!r}")
        check(answer["certificate"] == "tour-client", f"the server saw {answer}")
    print('  >>> with orb.ORB(tls=TLSConfig(ca="ca.pem")) as b:     # no client certificate')
    print("  ...     b.proxy(...).whoami()")
    with orb.ORB(tls=tls(None), timeout=CALL_TIMEOUT) as anonymous:
        try:
            anonymous.proxy(secure).whoami()
        except TLSError as exc:
            say(f"orb.security.TLSError: {exc}", indent=2)
        else:
            check(False, "a client without a certificate should be refused")


def parse_arguments(argv: list[str]) -> dict[str, str]:
    uris = dict(arg.split("=", 1) for arg in argv)
    missing = {"calculator", "ticker", "inspector"} - uris.keys()
    if missing:
        raise SystemExit(f"usage: tour_client.py calculator=URI ticker=URI inspector=URI "
                         f"(missing {', '.join(sorted(missing))})")
    return uris


def main(argv: list[str]) -> int:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    uris = parse_arguments(argv)
    with orb.ORB(timeout=CALL_TIMEOUT) as broker:  # client-only: listens nowhere
        # Proxies by name: orb.resolve asks the naming service found by mDNS.
        try:
            client = Client(
                broker=broker,
                uris=uris,
                calc=orb.resolve("tour/calculator"),
                ticker=orb.resolve("tour/ticker"),
                inspector=orb.resolve("tour/inspector"),
            )
        except orb.OrbError as exc:
            print(f"  STEP FAILED: cannot resolve the tour's objects by name: "
                  f"{type(exc).__name__}: {exc}")
            return 1
        failed = steps.run(client)
    print()
    if failed:
        say(f"{failed} of {len(steps.steps)} client steps FAILED.")
        return 1
    say(f"All {len(steps.steps)} client steps passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
