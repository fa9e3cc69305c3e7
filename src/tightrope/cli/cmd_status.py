"""`tightrope status`: the bond, its ports, and what claims each device."""

from __future__ import annotations

import argparse
import time
from typing import Any

from tightrope.cli import inputs, remote_cli, render
from tightrope.core.status import PendingTxn, status_report
from tightrope.errors import Exit, TightropeError


def _pending() -> PendingTxn | None:
    """The transaction not finished yet, if this user may read the state directory."""
    from tightrope.txn.state import DEFAULT_ROOT, Store

    store = Store(DEFAULT_ROOT)
    try:
        txn_id = store.pending_id()
        if txn_id is None:
            return None
        state = store.load(txn_id)
    except (OSError, TightropeError):
        return None
    remaining = int(state.deadline - time.time()) if state.deadline else None
    return PendingTxn(state.id, state.kind, state.phase, remaining, state.reconnect_at)


def _run(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return remote_cli.passthrough(args, remote_cli.strip_remote_args(args.argv))
    snap = inputs.snapshot_from(args.from_snapshot)
    render.status(status_report(snap, _pending()), as_json=args.json)
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("status", help="show bonds, ports and what claims each device")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--from-snapshot", metavar="FILE", help="read a saved snapshot instead")
    remote_cli.add_remote_options(p)
    p.set_defaults(func=_run)
