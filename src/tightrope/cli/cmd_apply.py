"""`apply`, `confirm`, `rollback`, `log` and `undo` on the box."""

from __future__ import annotations

import argparse
from typing import Any

from tightrope import proto
from tightrope.box import app
from tightrope.box.env import BoxEnv, real_env
from tightrope.cli import inputs, remote_cli, render, render_txn
from tightrope.cli.cmd_plan import add_snapshot_options
from tightrope.core.model import BondConfig
from tightrope.errors import Exit, UsageError, exit_for_outcome


def _env(args: argparse.Namespace) -> BoxEnv:
    return real_env(getattr(args, "state_dir", None), getattr(args, "from_snapshot", None))


def add_apply_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for consent")
    inputs.add_window_flags(p)
    p.add_argument(
        "--auto-confirm",
        action="store_true",
        help="commit once the gateway and your SSH client answer through the bond",
    )
    p.add_argument(
        "--verify-all-ports",
        action="store_true",
        help="wait for every port before the change may be confirmed, and roll it back if "
        "a Wi-Fi port cannot join (wrong PSK, SSID not in range); by default a Wi-Fi port "
        "still joining is not waited for once another port carries the bond",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="start the transaction and return at once (print its id)",
    )
    p.add_argument("--state-dir", help=argparse.SUPPRESS)


def apply_config(config: BondConfig, args: argparse.Namespace) -> int:
    env = _env(args)
    planned = app.plan(env, config)
    render.plan(planned.plan, hostname=planned.host, nm_version=planned.nm_version,
                as_json=args.json)  # fmt: skip
    if planned.plan.no_change:
        return int(Exit.OK)
    if not args.yes and not render_txn.consent(f"Apply these changes to {planned.host}?"):
        return int(Exit.FAILED)
    started = app.start(env, config, inputs.apply_options(args), planned.fingerprint,
                        planned.plan, app.fresh(env, planned))  # fmt: skip
    if args.no_wait:
        render_txn.started(started, as_json=args.json)
        return int(Exit.OK)
    final = render_txn.follow(app.follow(env, started.id), as_json=args.json)
    return int(exit_for_outcome(final.outcome or "failed"))


def _apply(args: argparse.Namespace) -> int:
    config = inputs.load_config_file(args.config)
    if remote_cli.wants_remote(args):
        return remote_cli.apply_fleet(config, args)
    return apply_config(config, args)


def _confirm(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return remote_cli.settle_remote(args, "confirm")
    return _settle(args, "confirm", "committed")


def _rollback(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return remote_cli.settle_remote(args, "abort")
    return _settle(args, "abort", "rolled-back")


def _settle(args: argparse.Namespace, action: str, want: str) -> int:
    txn = _txn_arg(args)
    settling = render_txn.Settling("confirm" if action == "confirm" else "rollback", args.json)
    try:
        final = app.settle(_env(args), action, txn, wait_s=90, on_event=settling)
    finally:
        settling.done()
    render_txn.outcome(final, as_json=args.json)
    return int(Exit.OK if final.outcome == want else Exit.FAILED)


def _txn_arg(args: argparse.Namespace) -> str | None:
    if not args.txn:
        return None
    try:
        return proto.valid_txn_id(args.txn)
    except proto.ProtocolError as exc:
        raise UsageError(str(exc), hint="`tightrope log` lists the transactions.") from None


def _undo(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return remote_cli.undo_remote(args)
    env = _env(args)
    started = app.undo(env, _txn_arg(args), inputs.apply_options(args))
    if args.no_wait:
        render_txn.started(started, as_json=args.json)
        return int(Exit.OK)
    final = render_txn.follow(app.follow(env, started.id), as_json=args.json)
    return int(exit_for_outcome(final.outcome or "failed"))


def _log(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return remote_cli.log_remote(args)
    txn = _txn_arg(args)
    env = _env(args)
    env.require_root()
    if txn:
        render_txn.log(app.log(env, txn), as_json=args.json)
    else:
        render_txn.history(app.history(env), as_json=args.json)
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("apply", help="apply CONFIG as a confirmed transaction (root, on the box)")
    p.add_argument("config", metavar="CONFIG", help="YAML file describing the bond")
    add_apply_options(p)
    add_snapshot_options(p)
    remote_cli.add_remote_options(p, fleet=True)
    p.set_defaults(func=_apply)
    for name, func, text in (
        ("confirm", _confirm, "commit the pending transaction (run it from the new address)"),
        ("rollback", _rollback, "abort the pending transaction now"),
    ):
        q = sub.add_parser(name, help=text, description=text)
        q.add_argument("txn", nargs="?", help="transaction id (default: the pending one)")
        q.add_argument("--json", action="store_true")
        q.add_argument("--state-dir", help=argparse.SUPPRESS)
        remote_cli.add_remote_options(q)
        q.set_defaults(func=func)
    q = sub.add_parser("undo", help="restore the state before a committed transaction")
    q.add_argument("txn", nargs="?", help="transaction id (default: the last committed apply)")
    q.add_argument("--json", action="store_true")
    inputs.add_window_flags(q)
    q.add_argument("--no-wait", action="store_true")
    q.add_argument("--state-dir", help=argparse.SUPPRESS)
    remote_cli.add_remote_options(q)
    q.add_argument("--to", metavar="ADDR",
                   help="with --host: the address the box goes back to (default: its record)")
    q.set_defaults(func=_undo)
    q = sub.add_parser("log", help="list transactions, or show one's steps")
    q.add_argument("txn", nargs="?", help="transaction id")
    q.add_argument("--json", action="store_true")
    q.add_argument("--state-dir", help=argparse.SUPPRESS)
    remote_cli.add_remote_options(q)
    q.set_defaults(func=_log)
