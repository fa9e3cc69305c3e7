"""`tightrope status`: the bond, its ports, and what claims each device."""

from __future__ import annotations

import argparse
from typing import Any

from tightrope.cli import inputs, remote_cli, render
from tightrope.core.status import status_report
from tightrope.errors import Exit


def _run(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return remote_cli.passthrough(args, remote_cli.strip_remote_args(args.argv))
    snap = inputs.snapshot_from(args.from_snapshot)
    render.status(status_report(snap), as_json=args.json)
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="show bonds, ports and what claims each device")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--from-snapshot", metavar="FILE", help="read a saved snapshot instead")
    remote_cli.add_remote_options(p)
    p.set_defaults(func=_run)
