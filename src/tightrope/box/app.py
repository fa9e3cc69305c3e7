"""The box-side application layer: typed requests in, typed results out.

The CLI on the box, the agent (remote mode and the Ansible modules) and the transaction runner
all call these functions; none of them prints. Everything that touches the box comes through
the injected BoxEnv.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tightrope import proto
from tightrope.box import glance
from tightrope.box.env import BoxEnv
from tightrope.core.snapshot import Snapshot
from tightrope.errors import Busy, Exit, TightropeError
from tightrope.txn import control, expiry
from tightrope.txn.state import TxnState

# How old (from its beginning) the plan's read of the box may be for the start to take it.
FRESH_READ_S = 5.0

if TYPE_CHECKING:  # imported where used: an agent that confirms or shows a status never plans
    from tightrope.core.drill import DrillResult
    from tightrope.core.model import BondConfig
    from tightrope.core.plan import Plan

OnEvent = Callable[[proto.TxnView], None]
OnWatchEvent = Callable[[proto.WatchEvent], None]


class PlanChanged(TightropeError):
    """The box's state moved between the plan the user agreed to and the start."""

    exit_code = Exit.PLAN_CHANGED
    hint = "Nothing was changed. Look at the new plan (`tightrope plan`) and apply again."


@dataclass(frozen=True)
class Planned:
    plan: Plan
    host: str
    nm_version: str
    fingerprint: str
    snapshot: Snapshot = field(repr=False)
    # When (monotonic) the read of the box behind this plan began; -inf: not known.
    read_at: float = field(default=float("-inf"), repr=False)
    config: BondConfig | None = field(default=None, repr=False)  # what was planned (secrets)


def fingerprint(plan: Plan) -> str:
    """What the user agrees to: the changes, where they are stored and where the box will
    answer. Cautions are left out: a scan result may differ from one look to the next."""
    d = plan.to_dict()
    agreed = {k: d[k] for k in ("bond", "changes", "storage", "reconnect_at")}
    return hashlib.sha256(json.dumps(agreed, sort_keys=True).encode()).hexdigest()[:24]


def _difference(agreed: Plan | None, now: Plan) -> str:
    if agreed is None:
        return "the plan differs from the one agreed to"
    before = {(c.action, c.profile) for c in agreed.changes}
    after = {(c.action, c.profile) for c in now.changes}
    parts = [f"now also {a} {p}" for a, p in sorted(after - before)]
    parts += [f"no longer {a} {p}" for a, p in sorted(before - after)]
    if not parts and agreed.storage != now.storage:
        parts.append("where the profiles are stored changed")
    return "; ".join(parts) or "the details of a change differ"


def _refuse_if_pending(env: BoxEnv) -> None:
    glance.expire_stale(env, "tightrope apply")
    pending = env.store.pending_id()
    if pending:
        raise Busy(f"transaction {pending} is still pending",
                   hint="Confirm it (`tightrope confirm`) or abort it (`tightrope rollback`).")


def _refuse_if_checkpoint(snap: Snapshot) -> None:
    if snap.checkpoints:
        cp = snap.checkpoints[0]
        raise Busy(
            f"NetworkManager holds a checkpoint ({cp.path}, rollback timeout "
            f"{cp.rollback_timeout_s} s), perhaps from a crashed run",
            hint="Wait for it to roll back, or end it: `busctl call "
            "org.freedesktop.NetworkManager /org/freedesktop/NetworkManager "
            f"org.freedesktop.NetworkManager CheckpointRollback o {cp.path}`.",
        )  # fmt: skip


def fresh(env: BoxEnv, planned: Planned) -> Planned | None:
    """The plan and its read of the box, if a start may take them instead of its own: when it
    follows the plan at once (`--yes`), a new read (a second or two on a small box) would guard
    against no more than the moment since. After a person's answer: None."""
    return planned if env.clock.mono() - planned.read_at <= FRESH_READ_S else None


def plan(env: BoxEnv, config: BondConfig, made: Planned | None = None) -> Planned:
    """Read the box once and plan; refuses while another change is pending. made: a plan
    the caller has just made from its own read (with secrets): its read is taken instead of a
    new one, and the plan itself when it was made for this very config."""
    from tightrope.core.plan import make_plan

    env.require_root()
    _refuse_if_pending(env)
    if made is not None and made.config == config:
        # make_plan is pure: the same read and config make the same plan (0.3 s under TCG).
        return made
    read_at = env.clock.mono() if made is None else float("-inf")
    snap = made.snapshot if made is not None else env.read_snapshot(True)
    _refuse_if_checkpoint(snap)
    p = make_plan(config, snap)
    return Planned(p, snap.hostname, snap.nm_version, fingerprint(p), snap, read_at, config)


def plan_only(env: BoxEnv, config: BondConfig) -> Planned:
    """`tightrope plan`: no root needed (secrets are compared only when root can read them)."""
    from tightrope.core.plan import make_plan

    snap = env.read_snapshot(True)
    p = make_plan(config, snap)
    return Planned(p, snap.hostname, snap.nm_version, fingerprint(p), snap, config=config)


def start(
    env: BoxEnv,
    config: BondConfig,
    options: proto.Options,
    agreed: str,
    agreed_plan: Plan | None = None,
    made: Planned | None = None,
) -> proto.TxnView:
    """Start the change planned as `agreed` (a fingerprint); refuse if the box moved since.
    made: the plan shown a moment ago and its read of the box (app.fresh), else read anew."""
    now = plan(env, config, made)
    if now.fingerprint != agreed:
        raise PlanChanged(f"the box changed since the plan you agreed to: "
                          f"{_difference(agreed_plan, now.plan)}")  # fmt: skip
    if now.plan.no_change:
        raise PlanChanged("there is nothing to change: the bond is already in place")
    started = control.start(
        config, now.plan, store=env.store, clock=env.clock, boot_id=env.boot_id(),
        launch=env.launch, confirm_timeout_s=options.confirm_timeout,
        verify_timeout_s=options.verify_timeout, auto_confirm=options.auto_confirm,
        ssh_client=now.snapshot.session.ssh_client, verify_all_ports=options.verify_all_ports,
    )  # fmt: skip
    return view(env, started.state)


def undo(env: BoxEnv, txn: str | None, options: proto.Options) -> proto.TxnView:
    env.require_root()
    glance.expire_stale(env, "tightrope undo")
    session = env.read_snapshot(False).session
    started = control.start_undo(
        env.store, clock=env.clock, boot_id=env.boot_id(), launch=env.launch, txn_id=txn,
        confirm_timeout_s=options.confirm_timeout, verify_timeout_s=options.verify_timeout,
        ssh_client=session.ssh_client,
    )  # fmt: skip
    return view(env, started.state)


def view(env: BoxEnv, state: TxnState) -> proto.TxnView:
    outcome = state.outcome if state.finished else None
    return proto.TxnView(
        id=state.id, txn_kind=state.kind, phase=state.phase, outcome=outcome,
        reason=state.reason, reconnect_at=state.reconnect_at,
        deadline_in_s=state.deadline_in_s(env.clock.mono()),
        created=state.created,
        steps=tuple(proto.Step(name=s.name, status=s.status, at=s.at, detail=s.detail)
                    for s in state.steps),
        ended=state.timings.get(state.outcome) if state.outcome else None,
        last_seen=state.timings.get("last-seen"),
    )  # fmt: skip


def progress(env: BoxEnv, txn: str | None) -> proto.TxnView:
    env.require_root()
    glance.expire_stale(env, "tightrope apply")  # the laptop follows its change with it
    txn = txn or env.store.pending_id() or _last(env)
    return view(env, env.store.load(txn))


def _last(env: BoxEnv) -> str:
    states = expiry.history(env.store)
    if not states:
        raise TightropeError("there is no transaction yet",
                             hint="`tightrope plan` shows what a change would do.")  # fmt: skip
    return states[-1].id


def settle(
    env: BoxEnv, action: str, txn: str | None, wait_s: float, on_event: OnEvent | None = None
) -> proto.TxnView:
    """confirm or abort, then wait up to wait_s for the end, telling each phase change.
    A transaction that already ended is reported as it ended, not refused: whoever asks
    after the fact (a journey that lost its session) wants to know."""
    env.require_root()
    glance.expire_stale(env, f"tightrope {action}")
    if txn is not None:
        state = env.store.load(txn)
        if state.finished:
            return view(env, state)
    state = control.request(env.store, "confirm" if action == "confirm" else "abort", txn)
    return wait(env, state.id, wait_s, on_event)


TELL_EVERY_S = 5.0  # whoever waits hears how it stands at least this often
WAIT_POLL_S = 0.1  # a read of a small file; a journey's end waits on it


def wait(env: BoxEnv, txn: str, wait_s: float, on_event: OnEvent | None = None) -> proto.TxnView:
    """Wait up to wait_s for the end, telling each phase change, and every few seconds the
    phase again (with the rollback deadline): a wait is never silent for long."""
    until = env.clock.mono() + wait_s
    state = env.store.load(txn)
    told, told_at = "", 0.0
    while not state.finished and env.clock.mono() < until:
        now = env.clock.mono()
        if on_event is not None and (state.phase != told or now - told_at >= TELL_EVERY_S):
            told, told_at = state.phase, now
            on_event(view(env, state))
        env.clock.sleep(WAIT_POLL_S)
        state = _load_live(env, txn)
    return view(env, state)


def _load_live(env: BoxEnv, txn: str) -> TxnState:
    """The transaction as stored, ended truthfully if its runner is gone (killed, rebooted)."""
    state = env.store.load(txn)
    if not state.finished and expiry.stale_reason(state, env.boot_id()):
        state = glance.expire_stale(env, "tightrope apply") or state
    return state


def follow(env: BoxEnv, txn: str, interval_s: float = 0.5) -> Iterator[proto.TxnView]:
    """The transaction as it moves (for the CLI's live progress), until it ends."""
    while True:
        state = _load_live(env, txn)
        yield view(env, state)
        if state.finished:
            return
        env.clock.sleep(interval_s)


def log(env: BoxEnv, txn: str) -> proto.TxnView:
    told = glance.expire(env, "tightrope log")
    return view(env, told.get(txn) or env.store.load(txn))


def history(env: BoxEnv) -> tuple[proto.TxnView, ...]:
    """Every transaction, oldest first; one whose state cannot be read is listed as
    "unreadable" with the reason (and, if it holds the lock, how to free it), not left out."""
    told = glance.expire(env, "tightrope log")
    views = []
    stuck = expiry.stuck_lock_now(env.store)
    for txn_id in env.store.all_ids():
        try:
            views.append(view(env, told.get(txn_id) or env.store.load(txn_id)))
        except TightropeError as exc:
            reason = str(exc)
            if stuck is not None and stuck.id == txn_id:
                told_stuck = expiry.stuck_lock(stuck)
                reason = f"{told_stuck}. {told_stuck.hint}"
            views.append(proto.TxnView(id=txn_id, txn_kind="?", phase="unreadable",
                                       reason=reason, created=_id_time(txn_id)))  # fmt: skip
    return tuple(sorted(views, key=lambda v: v.created))


def _id_time(txn_id: str) -> float:
    """When a transaction was made, from its id (its state, which records it, is unreadable)."""
    import calendar  # rarely needed: 60 ms of the agent's start on a small box

    return float(calendar.timegm(time.strptime(txn_id[:15], "%Y%m%d-%H%M%S")))


def drill(env: BoxEnv, request: proto.DrillRequest) -> DrillResult:
    """The failover drill; refused unless a backup port would carry the box meanwhile."""
    from tightrope.core.drill import DrillFault, DrillRefused, drill_plan

    request.check()  # whoever built it: the runner takes a port down for that long
    env.require_root()
    try:
        planned = drill_plan(env.read_snapshot(False), request.bond, request.target,
                             DrillFault(request.fault), request.seconds)  # fmt: skip
    except DrillRefused as exc:
        raise TightropeError(f"drill refused: {exc}",
                             hint="Fix the backup port first; `tightrope status` shows "
                             "it.") from None  # fmt: skip
    return env.drill(planned, request.seconds, request.interval_ms)


def watch(
    env: BoxEnv,
    seconds: float | None,
    on_event: OnWatchEvent,
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Tell each event as it comes, for `seconds` (None: until interrupted) or until `stop`
    says whoever asked is gone; returns how many were told. No root needed: without it the
    transactions are not seen, the rest is."""
    until = None if seconds is None else env.clock.mono() + seconds
    source = env.watch()
    told = 0
    try:
        while not stop():
            left = 0.2 if until is None else min(0.2, until - env.clock.mono())
            if left <= 0:
                break
            event = source.get(left)
            if event is not None:
                on_event(event)
                told += 1
    finally:
        source.stop()
    return told
