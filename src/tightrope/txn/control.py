"""Starting, confirming, aborting and inspecting transactions (the box-side verbs)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tightrope.errors import Busy, TightropeError
from tightrope.txn.clock import Clock
from tightrope.txn.expiry import expire_stale, history
from tightrope.txn.state import Store, TxnState

if TYPE_CHECKING:  # confirming or aborting a change needs none of them (the agent's start)
    from tightrope.core.model import BondConfig
    from tightrope.core.plan import Plan


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
    verify_all_ports: bool = False,
) -> Started:
    from tightrope.core.configdump import config_to_data

    inputs: dict[str, Any] = {
        "kind": kind,
        "config": config_to_data(config),
        "changes": [
            {"action": c.action, "uuid": c.uuid, "profile": c.profile} for c in plan.changes
        ],
        "confirm_timeout_s": confirm_timeout_s,
        "verify_timeout_s": verify_timeout_s,
        "auto_confirm": auto_confirm,
        "verify_all_ports": verify_all_ports,
        "ssh_client": ssh_client,
    }
    secrets = {p.interface: p.psk.reveal() for p in config.ports if p.psk is not None}
    return _start(store, clock, boot_id, launch, inputs, secrets, plan.reconnect_at)


def _start(
    store: Store,
    clock: Clock,
    boot_id: str,
    launch: Callable[[str, dict[str, str]], None],
    inputs: dict[str, Any],
    secrets: dict[str, str],
    reconnect_at: str | None,
) -> Started:
    expire_stale(store, clock, boot_id)
    now = clock.now()
    state = TxnState(
        id=store.new_id(now), kind=inputs["kind"], phase="prepared", created=now,
        boot_id=boot_id, reconnect_at=reconnect_at,
        confirm_timeout_s=int(inputs["confirm_timeout_s"]),
    )  # fmt: skip
    store.create(state, inputs)
    try:
        launch(state.id, secrets)
    except BaseException as exc:
        store.update(state, phase="failed", outcome="failed", reason=f"did not start: {exc}")
        store.release(state.id)
        raise
    return Started(store.load(state.id))


def last_undoable(store: Store) -> str | None:
    """The newest committed apply that no committed undo has undone yet."""
    undone = set()
    applies = []
    for state in history(store):
        if state.outcome != "committed":
            continue
        if state.kind == "undo":
            undone.add(store.inputs(state.id).get("of"))
        else:
            applies.append(state.id)
    left = [a for a in applies if a not in undone]
    return left[-1] if left else None


def prune(store: Store) -> list[str]:
    """Old transactions go, never the pending one, what it undoes, nor the change `undo`
    would take back next."""
    protect = {i for i in (store.pending_id(), last_undoable(store)) if i}
    for txn_id in list(protect):
        of = store.inputs(txn_id).get("of") if store.load(txn_id).kind == "undo" else None
        if isinstance(of, str):
            protect.add(of)
    return store.prune(protect)


def start_undo(
    store: Store,
    *,
    clock: Clock,
    boot_id: str,
    launch: Callable[[str, dict[str, str]], None],
    txn_id: str | None = None,
    confirm_timeout_s: int = 120,
    verify_timeout_s: int = 60,
    ssh_client: str | None = None,
) -> Started:
    of = txn_id or last_undoable(store)
    if of is None:
        raise TightropeError("there is no committed transaction to undo",
                             hint="`tightrope log` lists the transactions.")  # fmt: skip
    state = store.load(of)
    if state.outcome != "committed" or state.kind != "apply":
        raise TightropeError(f"transaction {of} is {state.outcome or state.phase}, not a "
                             "committed apply: nothing to undo")  # fmt: skip
    done = store.inputs(of)
    manifest = json.loads((store.txn_dir(of) / "backup" / "manifest.json").read_text())
    old_address = None
    for addrs in manifest.get("addresses", {}).values():
        if addrs:
            old_address = str(addrs[0]).split("/")[0]
            break
    inputs = {
        "kind": "undo", "of": of, "config": done["config"], "changes": done["changes"],
        "confirm_timeout_s": confirm_timeout_s, "verify_timeout_s": verify_timeout_s,
        "auto_confirm": False, "ssh_client": ssh_client,
    }  # fmt: skip
    return _start(store, clock, boot_id, launch, inputs, {}, old_address)


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
    until = clock.mono() + timeout_s
    state = store.load(txn_id)
    while not state.finished and clock.mono() < until:
        clock.sleep(0.25)
        state = store.load(txn_id)
    return state


