"""`tightrope lab ...`: placeholder until the lab lands."""

from __future__ import annotations

import argparse
from typing import Any

from tightrope.errors import NotImplementedYet


def _run(args: argparse.Namespace) -> int:
    raise NotImplementedYet("`tightrope lab` is not built yet")


def register(sub: Any) -> None:
    p = sub.add_parser("lab", help="a throwaway VM box to rehearse on")
    p.add_argument("rest", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=_run)
