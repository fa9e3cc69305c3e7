"""The detached side of `apply`: runs one transaction to its end, whatever happens to SSH.

Started as a transient systemd unit (see launch.py). Progress goes to stdout, which systemd
sends to the journal under the identifier `tightrope`, and to the transaction's state file.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from tightrope.core.config import Sources, parse_config
from tightrope.core.model import BondConfig, Secret
from tightrope.core.plan import make_plan
from tightrope.errors import TightropeError
from tightrope.txn.backend import Backend, System
from tightrope.txn.clock import Clock
from tightrope.txn.engine import Step, Transaction
from tightrope.txn.finish import finish
from tightrope.txn.state import StepLog, Store, TxnState
from tightrope.txn.steps import (
    Activate,
    AddProfiles,
    AwaitConfirm,
    Backup,
    Checkpoint,
    Context,
    Persist,
    RolledBack,
    Verify,
)


def config_with_secrets(data: dict[str, Any], secrets: dict[str, str]) -> BondConfig:
    config = parse_config(data, Sources(resolve_psk=False), origin="transaction inputs")
    ports = tuple(
        dataclasses.replace(p, psk=Secret(secrets[p.interface]))
        if p.is_wifi and p.interface in secrets
        else p
        for p in config.ports
    )
    return dataclasses.replace(config, ports=ports)


def change_keys(changes: Any) -> list[list[str]]:
    return sorted(
        [c["action"], c["uuid"]] if isinstance(c, dict) else [c.action, c.uuid] for c in changes
    )


def run(
    txn_id: str,
    *,
    store: Store,
    backend: Backend,
    system: System,
    clock: Clock,
    secrets: dict[str, str],
    out: Any = sys.stdout,
) -> TxnState:
    state = store.load(txn_id)
    inputs = store.inputs(txn_id)

    def note(message: str) -> None:
        nonlocal state
        print(f"[{txn_id}] {message}", file=out, flush=True)
        state = store.update(
            state, steps=(*state.steps, StepLog("note", "info", clock.now(), message))
        )

    def log(step: str, status: str, detail: str) -> None:
        nonlocal state
        print(
            f"[{txn_id}] {step}: {status}" + (f" ({detail})" if detail else ""),
            file=out,
            flush=True,
        )
        state = store.update(
            state, steps=(*state.steps, StepLog(step, status, clock.now(), detail))
        )

    def set_phase(phase: str, deadline: float | None) -> None:
        nonlocal state
        timings = dict(state.timings)
        timings[phase] = clock.now()
        state = store.update(state, phase=phase, deadline=deadline, timings=timings)

    set_phase("running", None)
    try:
        config = config_with_secrets(inputs["config"], secrets)
        before = backend.snapshot(include_secrets=True)
        plan = make_plan(config, before)
        if change_keys(plan.changes) != change_keys(inputs["changes"]):
            raise RolledBack(
                "the box changed between the plan and the apply; nothing was "
                "changed: run the plan again"
            )
        ctx = Context(
            txn_id=txn_id,
            config=config,
            plan=plan,
            before=before,
            backend=backend,
            system=system,
            store=store,
            clock=clock,
            note=note,
            set_phase=set_phase,
            confirm_timeout_s=int(inputs.get("confirm_timeout_s", 120)),
            verify_timeout_s=int(inputs.get("verify_timeout_s", 60)),
            auto_confirm=bool(inputs.get("auto_confirm", False)),
            ssh_client=inputs.get("ssh_client"),
        )
        steps: list[Step] = [
            Backup(ctx),
            Checkpoint(ctx),
            AddProfiles(ctx),
            Activate(ctx),
            Verify(ctx),
            AwaitConfirm(ctx),
            Persist(ctx),
        ]
        txn = Transaction(steps, log)
        try:
            txn.run()
        except BaseException:
            set_phase("rolling-back", None)
            raise
        problems = finish(ctx)
        set_phase("committed", None)
        reason = "; ".join(problems)
        state = store.update(state, outcome="committed", reason=reason)
    except RolledBack as exc:
        set_phase("rolled-back", None)
        state = store.update(state, outcome="rolled-back", reason=str(exc))
    except TightropeError as exc:
        set_phase("rolled-back", None)
        state = store.update(state, outcome="rolled-back", reason=f"{exc}")
    except Exception as exc:  # a bug must still end in a recorded, rolled-back transaction
        set_phase("failed", None)
        state = store.update(state, outcome="failed", reason=f"{type(exc).__name__}: {exc}")
    finally:
        store.release(txn_id)
    note(f"outcome: {state.outcome}" + (f" ({state.reason})" if state.reason else ""))
    return state
