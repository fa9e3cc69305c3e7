"""The --host options every command shares, apart from remote_cli (which brings SSH, the
journey and their imports): a command run on the box itself needs only to know it is not
remote, and `tightrope status` should not pay for the rest."""

from __future__ import annotations

import argparse


def add_remote_options(p: argparse.ArgumentParser, *, fleet: bool = False) -> None:
    g = p.add_argument_group("remote (run from your laptop)")
    g.add_argument(
        "--host",
        action="append",
        metavar="[USER@]HOST[:PORT]",
        help="the box, over SSH (repeat for several boxes)" if fleet else "the box",
    )
    if fleet:
        g.add_argument("--hosts", metavar="FILE", help="boxes, one per line, or YAML")
        g.add_argument("--parallel", type=int, default=1, metavar="N",
                       help="boxes changed at once (default: 1)")  # fmt: skip
        g.add_argument("--canary", type=int, default=0, metavar="N",
                       help="do N boxes first; stop if any fails (default: 0, none)")  # fmt: skip
    g.add_argument("--ssh-config", metavar="FILE", help="ssh -F FILE")
    g.add_argument(
        "--ssh-option", action="append", default=[], metavar="KEY=VALUE", help="ssh -o KEY=VALUE"
    )
    g.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="trust the box's key on first contact at the address you gave "
        "(StrictHostKeyChecking=accept-new; never at the new address)",
    )


def wants_remote(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "host", None) or getattr(args, "hosts", None))
