"""Starting, confirming, aborting and inspecting transactions (the box-side verbs)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tightrope.core.configdump import config_to_data
from tightrope.core.model import BondConfig
from tightrope.core.plan import Plan
from tightrope.errors import Busy, TightropeError
from tightrope.txn.clock import Clock
from tightrope.txn.state import Store, TxnState


@dataclass(frozen=True)
class Started:
    state: TxnState


def require_root() -> None:
    from tightrope.errors import NotRoot

    if os.geteuid() != 0:
        raise NotRoot("changing the network needs root on the box")


def start(
    config: BondConfig,
    plan: Plan,
    *,
    store: Store,
    clock: Clock,
    boot_id: str,
    launch: Callable[[str, dict[str, str]], None],
    confirm_timeout_s: int = 120,
    verify_timeout_s: int = 60,
    auto_confirm: bool = False,
    ssh_client: str | None = None,
    kind: str = "apply",
) -> Started:
    expire_stale(store, clock, boot_id)
    now = clock.now()
    state = TxnState(
        id=store.new_id(now),
        kind=kind,
        phase="prepared",
        created=now,
        boot_id=boot_id,
        reconnect_at=plan.reconnect_at,
        confirm_timeout_s=confirm_timeout_s,
    )
    inputs: dict[str, Any] = {
        "config": config_to_data(config),
        "changes": [
            {"action": c.action, "uuid": c.uuid, "profile": c.profile} for c in plan.changes
        ],
        "confirm_timeout_s": confirm_timeout_s,
        "verify_timeout_s": verify_timeout_s,
        "auto_confirm": auto_confirm,
        "ssh_client": ssh_client,
    }
    store.create(state, inputs)
    secrets = {p.interface: p.psk.reveal() for p in config.ports if p.psk is not None}
    try:
        launch(state.id, secrets)
    except BaseException as exc:
        store.update(state, phase="failed", outcome="failed", reason=f"did not start: {exc}")
        store.release(state.id)
        raise
    return Started(store.load(state.id))


def expire_stale(store: Store, clock: Clock, boot_id: str) -> TxnState | None:
    """A pending transaction whose runner is gone is over: say how it ended, free the lock."""
    pending = store.pending_id()
    if pending is None:
        return None
    try:
        state = store.load(pending)
    except TightropeError:
        store.release(pending)
        return None
    reason = stale_reason(state, boot_id)
    if reason is None:
        return None
    state = store.update(state, phase="aborted", outcome="aborted", reason=reason)
    store.release(pending)
    return state


def stale_reason(state: TxnState, boot_id: str) -> str | None:
    if state.finished:
        return None
    if state.boot_id != boot_id:
        return (
            "the box rebooted before confirmation: it booted the old configuration "
            "(new profiles lived only in memory)"
        )
    if state.runner_pid is not None and not os.path.exists(f"/proc/{state.runner_pid}"):
        return (
            "tightrope's runner died before confirmation: NetworkManager rolled the "
            "checkpoint back on its own"
        )
    return None


def request(store: Store, flag: str, txn_id: str | None = None) -> TxnState:
    txn_id = txn_id or store.pending_id()
    if txn_id is None:
        raise TightropeError(
            "no transaction is pending", hint="`tightrope log` lists past transactions."
        )
    state = store.load(txn_id)
    if state.finished:
        raise Busy(
            f"transaction {txn_id} already ended: {state.outcome}"
            + (f" ({state.reason})" if state.reason else "")
        )
    store.raise_flag(txn_id, flag)
    return state


def wait_for_end(store: Store, txn_id: str, clock: Clock, timeout_s: float) -> TxnState:
    until = clock.now() + timeout_s
    state = store.load(txn_id)
    while not state.finished and clock.now() < until:
        clock.sleep(0.25)
        state = store.load(txn_id)
    return state


def history(store: Store) -> list[TxnState]:
    out = []
    for txn_id in store.all_ids():
        try:
            out.append(store.load(txn_id))
        except TightropeError:
            continue
    return out


def with_runner(store: Store, txn_id: str, pid: int) -> TxnState:
    return store.update(replace(store.load(txn_id)), runner_pid=pid)
