"""Commands laid out now and built by later issues (safe apply, prove it)."""

from __future__ import annotations

import argparse
from typing import Any

from tightrope.errors import NotImplementedYet

_PENDING = {
    "watch": "live bond, link and Wi-Fi events",
    "drill": "failover drill with measured outage",
}


def _run(args: argparse.Namespace) -> int:
    raise NotImplementedYet(f"`tightrope {args.command}` is not built yet")


def register(sub: Any) -> None:
    for name, help_text in _PENDING.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
        p.set_defaults(func=_run)
