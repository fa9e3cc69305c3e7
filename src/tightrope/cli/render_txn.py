"""Rendering of transactions: consent, live progress with a countdown, outcome, log."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

from tightrope.cli import progress
from tightrope.cli.render import _console, emit_json, emit_json_line
from tightrope.cli.safe import safe
from tightrope.core.printable import printable
from tightrope.proto import TxnView
from tightrope.remote.journey import Until

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
    # The question names the box as it calls itself: printable, like every string from it.
    answer = input(f"{printable(question)} [y/N] ").strip().lower()
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
        f"Transaction [bold]{safe(state.id)}[/] started. Follow it with "
        f"`tightrope log {safe(state.id)}`; confirm with `{safe(confirm_command(state))}`."
    )


def _step_line(s: Any) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(s.at))
    if s.name == "note":
        return f"{when}  {safe(s.detail)}"
    detail = f" ({safe(s.detail)})" if s.detail else ""
    return f"{when}  {safe(s.name)}: {safe(s.status)}{detail}"


def follow(views: Iterable[TxnView], as_json: bool,
           countdown: progress.Countdown | None = None) -> TxnView:  # fmt: skip
    """Print progress until the transaction ends, with a countdown to the rollback while it
    waits. If the SSH session dies meanwhile, so be it: the runner does not depend on us."""
    out = _console()
    ticker = countdown or progress.for_stdout()
    shown = 0
    told = False
    state: TxnView | None = None
    try:
        for state in views:
            if state.steps[shown:] or (state.phase == "awaiting-confirm" and not told):
                ticker.clear()  # the live line gives way to what is printed for good
            for s in state.steps[shown:]:
                if as_json:
                    emit_json_line({"event": "step", "txn": state.id, "name": s.name,
                                    "status": s.status, "detail": s.detail,
                                    "at": s.at})  # fmt: skip
                else:
                    out.print(_step_line(s))
            shown = len(state.steps)
            if state.phase == "awaiting-confirm" and state.deadline_in_s is not None:
                left = int(state.deadline_in_s)
                if not told:
                    told = True
                    if not as_json:
                        out.print(
                            f"[bold]The box now answers at {safe(state.reconnect_at)}.[/] From a "
                            f"new terminal, within {left} s:\n    [bold]"
                            f"{safe(confirm_command(state))}[/]\nor NetworkManager rolls back."
                        )
                    else:
                        emit_json_line({"event": "awaiting-confirm", "txn": state.id,
                                   "deadline_in_s": left, "confirm": confirm_command(state)})
            if not as_json and not state.finished:
                ticker.update(_WAITING.get(state.phase, state.phase), state.deadline_in_s)
    finally:
        ticker.clear()  # Ctrl-C too: "interrupted" must not land on the live line
    assert state is not None
    outcome(state, as_json)
    return state


# What a phase waits for, as the countdown says it (other phases show as named).
_WAITING = {
    "activating": "activating the bond",
    "verifying": "verifying the bond",
    "awaiting-confirm": "waiting for `tightrope confirm`",
}


class Settling:
    """`confirm`/`rollback` on the box while it waits for the end (up to 90 s: a confirm
    sent while verification still runs waits for it): the box's view, told at each phase
    and every few seconds, drawn as a countdown. Call it with each view; `done` at the end."""

    def __init__(self, action: str, as_json: bool,
                 countdown: progress.Countdown | None = None) -> None:  # fmt: skip
        self.action = action
        self.countdown = None if as_json else countdown or progress.for_stdout()

    def __call__(self, v: TxnView) -> None:
        if self.countdown is not None and not v.finished:
            what = _WAITING.get(v.phase, v.phase)
            self.countdown.update(f"{self.action}: {what}", v.deadline_in_s)

    def done(self) -> None:
        if self.countdown is not None:
            self.countdown.clear()


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
    line = f"[{style}]{safe(state.outcome or state.phase)}[/]: transaction {safe(state.id)}"
    if state.reason:
        line += f" — {safe(state.reason)}"
    _console().print(line)


def log(state: TxnView, as_json: bool) -> None:
    if as_json:
        emit_json(view_dict(state))
        return
    out = _console()
    out.print(
        f"[bold]{safe(state.id)}[/] ({safe(state.txn_kind)}): {safe(state.phase)}"
        + (f", {safe(state.outcome)}" if state.outcome else "")
        + (f" {ended(state)}" if state.ended else "")
        + (f" — {safe(state.reason)}" if state.reason else "")
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
        table.add_column(col, overflow="fold")  # breaks, never cuts
    for s in states:
        table.add_row(safe(s.id), safe(s.txn_kind), safe(s.phase), safe(s.outcome or ""),
                      ended(s), safe(s.reason))
    out = _console()
    out.print(table if states else "No transactions yet.")
    out.print(safe(now_line(states)))


def journey_event(host: str, phase: str, message: str, as_json: bool) -> None:
    """A journey's --json is JSON lines: one object per event, the summary last."""
    if as_json:
        emit_json_line({"event": phase, "host": host, "message": message, "at": time.time()})
        return
    _console().print(f"[dim]{time.strftime('%H:%M:%S')}[/] [bold]{safe(host)}[/] {safe(phase)}: "
                     f"{safe(message)}")  # fmt: skip


class JourneyScreen:
    """How the journeys' events and countdown ticks reach the screen (threads share it).

    One box on a terminal: a live line counts down each second, standing in for the journey's
    "waiting" events, and gives way to every other event. A log file, a pipe or --json gets
    the "waiting" events (one every 5 s) as lines instead; so do several boxes, which share
    the screen."""

    def __init__(self, as_json: bool, countdown: progress.Countdown, boxes: int) -> None:
        self.as_json = as_json
        self.live = countdown if countdown.live and not as_json and boxes == 1 else None
        self._lock = threading.Lock()

    def event(self, host: str, phase: str, message: str) -> None:
        with self._lock:
            if self.live is not None:
                if phase == "waiting":
                    return
                self.live.clear()
            journey_event(host, phase, message, self.as_json)

    def tick(self, what: str, left_s: float | None, until: Until) -> None:
        if self.live is not None:
            with self._lock:
                self.live.update(what, left_s, until)

    def done(self) -> None:
        if self.live is not None:
            self.live.clear()


def journey_plan(host: str, plan: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json_line({"event": "plan", "host": host, "plan": plan, "at": time.time()})
        return
    from tightrope.cli.render import plan_data

    plan_data(plan, as_json=False)


def journey_summary(results: list[Any], code: int, as_json: bool,
                    width: int | None = None) -> None:  # fmt: skip
    if as_json:
        emit_json_line({"event": "summary", "exit_code": code,
                        "results": [r.to_dict() for r in results]})  # fmt: skip
        return
    from rich import box
    from rich.measure import Measurement
    from rich.table import Table

    rows = [_summary_row(r) for r in results]
    # Addresses and outcomes are never cut or broken ("rolled-b…" told nothing); only the
    # reason wraps, at word boundaries.
    table = Table(show_header=True, header_style="bold", box=box.SIMPLE_HEAD)
    for col in _SUMMARY_COLUMNS[:-1]:
        table.add_column(col, no_wrap=True)
    table.add_column(_SUMMARY_COLUMNS[-1], overflow="fold", min_width=16)
    for row in rows:
        table.add_row(*row)
    out = _console(width=width)
    # Measured without the console's width, which would clamp the answer to it.
    if Measurement.get(out, out.options.update_width(10**6), table).minimum <= out.width:
        out.print(table)
        return
    # Too narrow a terminal for the table whole: the same, as one "key: value" line each.
    for row in rows:
        for col, value in zip(_SUMMARY_COLUMNS, row, strict=True):
            if value:
                out.print(f"{col + ':':12} {value}", soft_wrap=True)
        out.print()


_SUMMARY_COLUMNS = ("host", "old address", "new address", "outcome", "outage", "took", "why")


def _summary_row(r: Any) -> tuple[str, ...]:
    style = _OUTCOME_STYLE.get(r.outcome.value, "bold")
    return (safe(r.host), safe(r.old_address), safe(r.new_address or ""),
            f"[{style}]{safe(r.outcome.value)}[/]",
            f"{r.outage_s:.2f} s" if r.outage_s is not None else "", f"{r.seconds:.0f} s",
            safe(r.reason))  # fmt: skip
