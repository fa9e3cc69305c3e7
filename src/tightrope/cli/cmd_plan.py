"""`tightrope plan CONFIG`: what exists, what conflicts, what will change. Changes nothing."""

from __future__ import annotations

import argparse
from typing import Any

from tightrope.box import app
from tightrope.box.env import real_env
from tightrope.cli import inputs, remote_cli, render
from tightrope.core.model import BondConfig
from tightrope.errors import Exit


def add_snapshot_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument(
        "--from-snapshot",
        metavar="FILE",
        help="plan against a snapshot saved as JSON instead of this box's NetworkManager",
    )


def show_plan(config: BondConfig, args: argparse.Namespace) -> int:
    # Secrets are read (as root) only to tell whether the PSK changed; they are never shown.
    planned = app.plan_only(real_env(from_snapshot=args.from_snapshot), config)
    render.plan(planned.plan, hostname=planned.host, nm_version=planned.nm_version,
                as_json=args.json)  # fmt: skip
    return int(Exit.OK if planned.plan.no_change else Exit.CHANGES)


def _run(args: argparse.Namespace) -> int:
    config = inputs.load_config_file(args.config)
    if remote_cli.wants_remote(args):
        return remote_cli.plan_remote(config, args)
    return show_plan(config, args)


def register(sub: Any) -> None:
    p = sub.add_parser(
        "plan",
        help="show what applying CONFIG would change (changes nothing)",
        description="Read the box's state and show what applying CONFIG would change. "
        "Exit 0: already in place; 10: changes needed; 3: invalid; 4: NetworkManager "
        "unreachable.",
    )
    p.add_argument("config", metavar="CONFIG", help="YAML file describing the bond")
    add_snapshot_options(p)
    remote_cli.add_remote_options(p)
    p.set_defaults(func=_run)
