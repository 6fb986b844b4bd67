"""``orb-naming``: the naming service daemon."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    print("orb-naming: the naming service is not available yet", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
