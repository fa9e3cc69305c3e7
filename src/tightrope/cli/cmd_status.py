"""`tightrope status`: the bond, its ports, and what claims each device."""

from __future__ import annotations

import argparse
from typing import Any

from tightrope.cli.remote_options import add_remote_options, wants_remote
from tightrope.errors import Exit


def _run(args: argparse.Namespace) -> int:
    # Imported here: on the box, status answers at nmcli's pace only without the SSH side.
    if wants_remote(args):
        from tightrope.cli import remote_cli

        return remote_cli.status_remote(args)
    from tightrope.box import glance
    from tightrope.box.env import real_env
    from tightrope.cli import render

    render.status(glance.status(real_env(from_snapshot=args.from_snapshot)), as_json=args.json)
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="show bonds, ports and what claims each device")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--from-snapshot", metavar="FILE", help="read a saved snapshot instead")
    add_remote_options(p)
    p.set_defaults(func=_run)
