"""``python -m bench``: run the benchmarks and print one table.

Options choose the scenarios, systems, seconds per measurement and rounds;
``--json FILE`` also saves the raw numbers. ``python -m bench.scaling``
measures how throughput and memory grow with connected clients.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys

from . import harness, report
from .scenarios import SCENARIOS, Settings
from .systems import SYSTEM_KEYS


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=2.0,
                        help="seconds per measurement (default 2)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run everything this many times and keep the best (default 1)")
    parser.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                        help="run only this scenario (repeatable)")
    parser.add_argument("--system", action="append", choices=list(SYSTEM_KEYS),
                        help="run only this system (repeatable)")
    parser.add_argument("--threads", type=int, default=8, help="threads of threads_* (8)")
    parser.add_argument("--fanout", type=int, default=1000, help="calls of asyncio_fanout (1000)")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    settings = Settings(duration=args.duration, threads=args.threads, fanout=args.fanout)

    def progress(text: str) -> None:
        if not args.quiet:
            print(f"  {text}", file=sys.stderr, flush=True)

    results = harness.run(
        settings=settings, systems=args.system, scenarios=args.scenario, rounds=args.rounds,
        progress=progress,
    )
    print(f"orb benchmarks: Python {platform.python_version()} on {platform.machine()}, "
          f"{report.describe_settings(results)}")
    print()
    print(report.table(results))
    print()
    print(report.targets(results))
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results.to_json(), out, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
