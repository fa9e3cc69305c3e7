"""Print a snapshot of this box as JSON: `python -m tightrope.nm.capture > snapshot.json`.

For lab fixtures and bug reports. Secrets stay out unless --secrets is given (root only).
"""

from __future__ import annotations

import argparse
import json
import sys

from tightrope.core.printable import printable
from tightrope.errors import TightropeError
from tightrope.nm.reader import read_snapshot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tightrope.nm.capture", description=__doc__)
    parser.add_argument("--secrets", action="store_true", help="include secrets (needs root)")
    parser.add_argument("--scan", action="store_true", help="request a fresh Wi-Fi scan first")
    parser.add_argument("--bus-address", help="D-Bus address instead of the system bus")
    args = parser.parse_args(argv)
    try:
        snapshot = read_snapshot(
            include_secrets=args.secrets, scan=args.scan, bus_address=args.bus_address
        )
    except TightropeError as exc:
        # NetworkManager's words can carry a profile's name: never raw to the terminal.
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        if exc.hint:
            print(printable(exc.hint), file=sys.stderr)
        return int(exc.exit_code)
    data = snapshot.to_dict(with_secrets=args.secrets)
    json.dump(data, sys.stdout, indent=2, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
