"""Rendering of transactions: consent, live progress with a countdown, outcome, log."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

from tightrope.cli.render import _console, emit_json, emit_json_line
from tightrope.proto import TxnView

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


def confirm_command(state: TxnView) -> str:
    user = os.environ.get("SUDO_USER")
    where = state.reconnect_at or "<the new address>"
    if user and user != "root":
        return f"ssh {user}@{where} sudo tightrope confirm"
    return f"ssh root@{where} tightrope confirm"


def started(state: TxnView, as_json: bool) -> None:
    if as_json:
        emit_json_line(
            {
                "event": "started",
                "txn": state.id,
                "reconnect_at": state.reconnect_at,
                "deadline_in_s": state.deadline_in_s,
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


def follow(views: Iterable[TxnView], as_json: bool) -> TxnView:
    """Print progress until the transaction ends. If the SSH session dies meanwhile, so be it:
    the runner does not depend on us."""
    out = _console()
    shown = 0
    told = False
    last_tick = 0.0
    state: TxnView | None = None
    for state in views:
        for s in state.steps[shown:]:
            if as_json:
                emit_json_line({"event": "step", "txn": state.id, "name": s.name,
                                "status": s.status, "detail": s.detail, "at": s.at})  # fmt: skip
            else:
                out.print(_step_line(s))
        shown = len(state.steps)
        if state.phase == "awaiting-confirm" and state.deadline_in_s is not None:
            left = int(state.deadline_in_s)
            if not told:
                told = True
                if not as_json:
                    out.print(
                        f"[bold]The box now answers at {state.reconnect_at}.[/] From a "
                        f"new terminal, within {left} s:\n    [bold]"
                        f"{confirm_command(state)}[/]\nor NetworkManager rolls back."
                    )
                else:
                    emit_json_line({"event": "awaiting-confirm", "txn": state.id,
                               "deadline_in_s": left, "confirm": confirm_command(state)})
            if not as_json and time.monotonic() - last_tick >= 10:
                last_tick = time.monotonic()
                out.print(f"[dim]… rollback in {left} s unless confirmed[/]")
    assert state is not None
    outcome(state, as_json)
    return state


def outcome(state: TxnView, as_json: bool) -> None:
    if as_json:
        emit_json_line(
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


def log(state: TxnView, as_json: bool) -> None:
    if as_json:
        emit_json(view_dict(state))
        return
    out = _console()
    out.print(
        f"[bold]{state.id}[/] ({state.txn_kind}): {state.phase}"
        + (f", {state.outcome}" if state.outcome else "")
        + (f" {ended(state)}" if state.ended else "")
        + (f" — {state.reason}" if state.reason else "")
    )
    for s in state.steps:
        out.print("  " + _step_line(s))


def view_dict(state: TxnView) -> dict[str, Any]:
    """A transaction as `log --json` documents it."""
    from tightrope.proto import encode

    d: dict[str, Any] = json.loads(encode(state))
    d.pop("v")
    d.pop("type")
    d["kind"] = d.pop("txn_kind")
    return d


def ended(state: TxnView) -> str:
    """When it ended; for a change cut short (a reboot, a killed runner) between when."""
    if state.ended is None:
        return ""
    found = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.ended))
    if state.last_seen is None:
        return f"at {found}"
    seen = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(state.last_seen))
    return f"cut short after {seen} (last heard of), found ended at {found}"


def now_line(states: list[TxnView]) -> str:
    """What runs now, as far as transactions go: the pending one, a stuck lock, or none."""
    live = [s for s in states if s.outcome is None and s.phase != "unreadable"]
    if live:
        s = live[-1]
        left = f", {s.deadline_in_s:.0f} s left to confirm" if s.deadline_in_s else ""
        return f"now: {s.txn_kind} {s.id} is pending ({s.phase}{left})"
    if any(s.phase == "unreadable" and "lock is stuck" in s.reason for s in states):
        return "now: the change lock is stuck (see the unreadable transaction above)"
    return "now: no change is pending"


def history(states: Iterable[TxnView], as_json: bool) -> None:
    states = list(states)
    if as_json:
        emit_json(
            [
                {
                    "id": s.id,
                    "kind": s.txn_kind,
                    "phase": s.phase,
                    "outcome": s.outcome,
                    "reason": s.reason,
                    "created": s.created,
                    "ended": s.ended,
                    "last_seen": s.last_seen,
                }
                for s in states
            ]
        )
        return
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("transaction", "kind", "phase", "outcome", "ended", "reason"):
        table.add_column(col)
    for s in states:
        table.add_row(s.id, s.txn_kind, s.phase, s.outcome or "", ended(s), s.reason)
    out = _console()
    out.print(table if states else "No transactions yet.")
    out.print(now_line(states))


def journey_event(host: str, phase: str, message: str, as_json: bool) -> None:
    """A journey's --json is JSON lines: one object per event, the summary last."""
    if as_json:
        emit_json_line({"event": phase, "host": host, "message": message, "at": time.time()})
        return
    from rich.markup import escape

    _console().print(f"[dim]{time.strftime('%H:%M:%S')}[/] [bold]{escape(host)}[/] {phase}: "
                     f"{escape(message)}")  # fmt: skip


def journey_plan(host: str, plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json_line({"event": "plan", "host": host, "plan": plan, "at": time.time()})
        return
    from tightrope.cli.render import plan_data

    plan_data(plan, as_json=False)


def journey_summary(results: list[Any], code: int, as_json: bool) -> None:
    if as_json:
        emit_json_line({"event": "summary", "exit_code": code,
                        "results": [r.to_dict() for r in results]})  # fmt: skip
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_header=True, header_style="bold")
    for col in ("host", "old address", "new address", "outcome", "outage", "seconds", "why"):
        table.add_column(col)
    for r in results:
        style = _OUTCOME_STYLE.get(r.outcome.value, "bold")
        outage = f"{r.outage_s:.1f} s" if r.outage_s is not None else ""
        table.add_row(escape(r.host), r.old_address, r.new_address or "",
                      f"[{style}]{r.outcome.value}[/]", outage, f"{r.seconds:.0f}",
                      escape(r.reason))  # fmt: skip
    _console().print(table)
