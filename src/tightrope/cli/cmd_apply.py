"""`apply`, `confirm`, `rollback`, `log` and the hidden `_txn-run` (the detached runner)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tightrope.cli import inputs, remote_cli, render, render_txn
from tightrope.cli.cmd_plan import add_snapshot_options
from tightrope.core.model import BondConfig
from tightrope.core.plan import Plan, make_plan
from tightrope.core.snapshot import Snapshot
from tightrope.errors import Busy, Exit, TightropeError
from tightrope.txn import control
from tightrope.txn.clock import RealClock
from tightrope.txn.state import DEFAULT_ROOT, Store, TxnState


def _store(args: argparse.Namespace) -> Store:
    return Store(Path(getattr(args, "state_dir", None) or DEFAULT_ROOT))


def add_apply_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for consent")
    p.add_argument(
        "--confirm-timeout",
        type=int,
        default=120,
        metavar="S",
        help="seconds to confirm from the new address before rollback (120)",
    )
    p.add_argument(
        "--verify-timeout",
        type=int,
        default=60,
        metavar="S",
        help="seconds for the bond and Wi-Fi to come up before rollback (60)",
    )
    p.add_argument(
        "--auto-confirm",
        action="store_true",
        help="commit once the gateway and your SSH client answer through the bond",
    )
    p.add_argument(
        "--no-wait",
        action="store_true",
        help="start the transaction and return at once (print its id)",
    )
    p.add_argument("--state-dir", help=argparse.SUPPRESS)


@dataclass(frozen=True)
class ApplyOptions:
    confirm_timeout: int = 120
    verify_timeout: int = 60
    auto_confirm: bool = False
    state_dir: str | None = None
    from_snapshot: str | None = None


def options_from(args: argparse.Namespace) -> ApplyOptions:
    return ApplyOptions(
        confirm_timeout=args.confirm_timeout, verify_timeout=args.verify_timeout,
        auto_confirm=args.auto_confirm, state_dir=getattr(args, "state_dir", None),
        from_snapshot=getattr(args, "from_snapshot", None),
    )  # fmt: skip


def plan_on_box(config: BondConfig, opts: ApplyOptions) -> tuple[Plan, Snapshot]:
    """The box-side checks before anything changes; refuses while something is pending."""
    control.require_root()
    from tightrope.txn.nmbackend import HostSystem

    store = Store(Path(opts.state_dir or DEFAULT_ROOT))
    control.expire_stale(store, RealClock(), HostSystem().boot_id())
    if store.pending_id():
        raise Busy(
            f"transaction {store.pending_id()} is still pending",
            hint="Confirm it (`tightrope confirm`) or abort it (`tightrope rollback`).",
        )
    snap = inputs.snapshot_from(opts.from_snapshot, include_secrets=True)
    if snap.checkpoints:
        cp = snap.checkpoints[0]
        raise Busy(
            f"NetworkManager holds a checkpoint ({cp.path}, rollback timeout "
            f"{cp.rollback_timeout_s} s), perhaps from a crashed run",
            hint="Wait for it to roll back, or end it: `busctl call "
            "org.freedesktop.NetworkManager /org/freedesktop/NetworkManager "
            f"org.freedesktop.NetworkManager CheckpointRollback o {cp.path}`.",
        )
    return make_plan(config, snap), snap


def start_on_box(config: BondConfig, plan: Plan, snap: Snapshot, opts: ApplyOptions) -> TxnState:
    from tightrope.txn.launch import start_unit
    from tightrope.txn.nmbackend import HostSystem

    store = Store(Path(opts.state_dir or DEFAULT_ROOT))
    started = control.start(
        config, plan, store=store, clock=RealClock(), boot_id=HostSystem().boot_id(),
        launch=lambda txn_id, secrets: start_unit(txn_id, store.root, secrets),
        confirm_timeout_s=opts.confirm_timeout, verify_timeout_s=opts.verify_timeout,
        auto_confirm=opts.auto_confirm, ssh_client=snap.session.ssh_client,
    )  # fmt: skip
    return started.state


def apply_config(config: BondConfig, args: argparse.Namespace) -> int:
    opts = options_from(args)
    plan, snap = plan_on_box(config, opts)
    render.plan(plan, hostname=snap.hostname, nm_version=snap.nm_version, as_json=args.json)
    if plan.no_change:
        return int(Exit.OK)
    if not args.yes and not render_txn.consent(f"Apply these changes to {snap.hostname}?"):
        return int(Exit.FAILED)
    state = start_on_box(config, plan, snap, opts)
    if args.no_wait:
        render_txn.started(state, as_json=args.json)
        return int(Exit.OK)
    final = render_txn.follow(_store(args), state.id, RealClock(), as_json=args.json)
    return int(Exit.OK if final.outcome == "committed" else Exit.FAILED)


def _apply(args: argparse.Namespace) -> int:
    config = inputs.load_config_file(args.config)
    if remote_cli.wants_remote(args):
        return remote_cli.apply_fleet(config, args)
    return apply_config(config, args)


def _remote_or(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        if remote_cli.wants_remote(args):
            return remote_cli.passthrough(args, remote_cli.strip_remote_args(args.argv))
        return func(args)

    return run


def _confirm(args: argparse.Namespace) -> int:
    control.require_root()
    store, clock = _store(args), RealClock()
    ended = _ended(store, args.txn)
    if ended is not None:  # say how it ended rather than refuse: scripts ask after the fact
        render_txn.outcome(ended, as_json=args.json)
        return int(Exit.OK if ended.outcome == "committed" else Exit.FAILED)
    state = control.request(store, "confirm", args.txn)
    final = control.wait_for_end(store, state.id, clock, timeout_s=90)
    render_txn.outcome(final, as_json=args.json)
    return int(Exit.OK if final.outcome == "committed" else Exit.FAILED)


def _ended(store: Store, txn_id: str | None) -> TxnState | None:
    if txn_id is None:
        return None
    state = store.load(txn_id)
    return state if state.finished else None


def _rollback(args: argparse.Namespace) -> int:
    control.require_root()
    store, clock = _store(args), RealClock()
    state = control.request(store, "abort", args.txn)
    final = control.wait_for_end(store, state.id, clock, timeout_s=90)
    render_txn.outcome(final, as_json=args.json)
    return int(Exit.OK if final.outcome == "rolled-back" else Exit.FAILED)


def _undo(args: argparse.Namespace) -> int:
    control.require_root()
    from tightrope.txn.launch import start_unit
    from tightrope.txn.nmbackend import HostSystem

    store, clock, system = _store(args), RealClock(), HostSystem()
    control.expire_stale(store, clock, system.boot_id())
    session = inputs.snapshot_from(None).session
    started = control.start_undo(
        store, clock=clock, boot_id=system.boot_id(),
        launch=lambda txn_id, secrets: start_unit(txn_id, store.root, secrets),
        txn_id=args.txn, confirm_timeout_s=args.confirm_timeout,
        verify_timeout_s=args.verify_timeout, ssh_client=session.ssh_client,
    )  # fmt: skip
    if args.no_wait:
        render_txn.started(started.state, as_json=args.json)
        return int(Exit.OK)
    final = render_txn.follow(store, started.state.id, clock, as_json=args.json)
    return int(Exit.OK if final.outcome == "committed" else Exit.FAILED)


def _log(args: argparse.Namespace) -> int:
    store = _store(args)
    if args.txn:
        render_txn.log(store.load(args.txn), as_json=args.json)
    else:
        from tightrope.txn.nmbackend import HostSystem

        control.expire_stale(store, RealClock(), HostSystem().boot_id())
        render_txn.history(control.history(store), as_json=args.json)
    return int(Exit.OK)


def _txn_run(args: argparse.Namespace) -> int:
    from tightrope.txn import runner
    from tightrope.txn.launch import FIFO_NAME, receive_secrets
    from tightrope.txn.nmbackend import HostSystem, NMBackend

    store = _store(args)
    control.with_runner(store, args.txn, os.getpid())
    try:
        secrets = receive_secrets(store.txn_dir(args.txn) / FIFO_NAME)
    except TightropeError as exc:
        state = store.load(args.txn)
        store.update(state, phase="failed", outcome="failed", reason=str(exc))
        store.release(args.txn)
        return int(Exit.FAILED)
    final = runner.run(
        args.txn,
        store=store,
        backend=NMBackend(),
        system=HostSystem(),
        clock=RealClock(),
        secrets=secrets,
    )
    return int(Exit.OK if final.outcome == "committed" else Exit.FAILED)


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
        q.set_defaults(func=_remote_or(func))
    q = sub.add_parser("undo", help="restore the state before a committed transaction")
    q.add_argument("txn", nargs="?", help="transaction id (default: the last committed apply)")
    q.add_argument("--json", action="store_true")
    q.add_argument("--confirm-timeout", type=int, default=120, metavar="S")
    q.add_argument("--verify-timeout", type=int, default=60, metavar="S")
    q.add_argument("--no-wait", action="store_true")
    q.add_argument("--state-dir", help=argparse.SUPPRESS)
    remote_cli.add_remote_options(q)
    q.set_defaults(func=_remote_or(_undo))
    q = sub.add_parser("log", help="list transactions, or show one's steps")
    q.add_argument("txn", nargs="?", help="transaction id")
    q.add_argument("--json", action="store_true")
    q.add_argument("--state-dir", help=argparse.SUPPRESS)
    remote_cli.add_remote_options(q)
    q.set_defaults(func=_remote_or(_log))
    q = sub.add_parser("_txn-run")  # hidden: the detached runner (help suppressed below)
    q.add_argument("txn")
    q.add_argument("--root", dest="state_dir")
    q.set_defaults(func=_txn_run)
