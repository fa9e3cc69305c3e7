"""Rendering of transactions: consent, live progress with a countdown, outcome, log."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

from tightrope.cli.render import _console, emit_json
from tightrope.txn.clock import Clock
from tightrope.txn.state import Store, TxnState

_OUTCOME_STYLE = {
    "committed": "bold green",
    "rolled-back": "bold yellow",
    "failed": "bold red",
    "aborted": "bold yellow",
}


def consent(question: str) -> bool:
    if not sys.stdin.isatty():
        _console(stderr=True).print("[red]No terminal to ask for consent: pass --yes.[/]")
        return False
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def confirm_command(state: TxnState) -> str:
    user = os.environ.get("SUDO_USER")
    where = state.reconnect_at or "<the new address>"
    if user and user != "root":
        return f"ssh {user}@{where} sudo tightrope confirm"
    return f"ssh root@{where} tightrope confirm"


def started(state: TxnState, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "event": "started",
                "txn": state.id,
                "reconnect_at": state.reconnect_at,
                "confirm_timeout_s": state.confirm_timeout_s,
            }
        )
        return
    _console().print(
        f"Transaction [bold]{state.id}[/] started. Follow it with "
        f"`tightrope log {state.id}`; confirm with `{confirm_command(state)}`."
    )


def _step_line(s: Any) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(s.at))
    if s.name == "note":
        return f"{when}  {s.detail}"
    return f"{when}  {s.name}: {s.status}" + (f" ({s.detail})" if s.detail else "")


def follow(store: Store, txn_id: str, clock: Clock, as_json: bool) -> TxnState:
    """Print progress until the transaction ends. If the SSH session dies meanwhile, so be it:
    the runner does not depend on us."""
    out = _console()
    shown = 0
    told = False
    last_tick = 0.0
    state = store.load(txn_id)
    while True:
        for s in state.steps[shown:]:
            if as_json:
                emit_json(
                    {
                        "event": "step",
                        "txn": txn_id,
                        "name": s.name,
                        "status": s.status,
                        "detail": s.detail,
                        "at": s.at,
                    }
                )
            else:
                out.print(_step_line(s))
        shown = len(state.steps)
        if state.finished:
            break
        if state.phase == "awaiting-confirm" and state.deadline:
            left = int(state.deadline - clock.now())
            if not told:
                told = True
                if not as_json:
                    out.print(
                        f"[bold]The box now answers at {state.reconnect_at}.[/] From a "
                        f"new terminal, within {left} s:\n    [bold]"
                        f"{confirm_command(state)}[/]\nor NetworkManager rolls back."
                    )
                else:
                    emit_json(
                        {
                            "event": "awaiting-confirm",
                            "txn": txn_id,
                            "deadline": state.deadline,
                            "confirm": confirm_command(state),
                        }
                    )
            if not as_json and clock.now() - last_tick >= 10:
                last_tick = clock.now()
                out.print(f"[dim]… rollback in {left} s unless confirmed[/]")
        clock.sleep(0.5)
        state = store.load(txn_id)
    outcome(state, as_json)
    return state


def outcome(state: TxnState, as_json: bool) -> None:
    if as_json:
        emit_json(
            {
                "event": "outcome",
                "txn": state.id,
                "outcome": state.outcome,
                "reason": state.reason,
                "reconnect_at": state.reconnect_at,
            }
        )
        return
    style = _OUTCOME_STYLE.get(state.outcome or "", "bold")
    line = f"[{style}]{state.outcome or state.phase}[/]: transaction {state.id}"
    if state.reason:
        line += f" — {state.reason}"
    _console().print(line)


def log(state: TxnState, as_json: bool) -> None:
    if as_json:
        emit_json(state.to_dict())
        return
    out = _console()
    out.print(
        f"[bold]{state.id}[/] ({state.kind}): {state.phase}"
        + (f", {state.outcome}" if state.outcome else "")
        + (f" — {state.reason}" if state.reason else "")
    )
    for s in state.steps:
        out.print("  " + _step_line(s))


def history(states: list[TxnState], as_json: bool) -> None:
    if as_json:
        emit_json(
            [
                {
                    "id": s.id,
                    "kind": s.kind,
                    "phase": s.phase,
                    "outcome": s.outcome,
                    "reason": s.reason,
                    "created": s.created,
                }
                for s in states
            ]
        )
        return
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("transaction", "kind", "phase", "outcome", "reason"):
        table.add_column(col)
    for s in states:
        table.add_row(s.id, s.kind, s.phase, s.outcome or "", s.reason)
    _console().print(table if states else "No transactions yet.")


def journey_event(host: str, phase: str, message: str, as_json: bool) -> None:
    if as_json:
        emit_json({"event": phase, "host": host, "message": message, "at": time.time()})
        return
    _console().print(f"[dim]{time.strftime('%H:%M:%S')}[/] [bold]{host}[/] {phase}: {message}")


def journey_summary(results: list[Any], as_json: bool) -> None:
    if as_json:
        emit_json({"event": "summary", "results": [r.to_dict() for r in results]})
        return
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("host", "old address", "new address", "outcome", "outage", "seconds", "why"):
        table.add_column(col)
    for r in results:
        style = _OUTCOME_STYLE.get(r.outcome, "bold")
        outage = f"{r.outage_s:.1f} s" if r.outage_s is not None else ""
        table.add_row(r.host, r.old_address, r.new_address or "", f"[{style}]{r.outcome}[/]",
                      outage, f"{r.seconds:.0f}", r.reason)  # fmt: skip
    _console().print(table)
