"""The only place that prints results: human (rich) or --json. Errors go to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from tightrope.core.plan import Plan
from tightrope.core.status import BondStatus, StatusReport
from tightrope.errors import ConfigError, TightropeError

_SEVERITY_STYLE = {"danger": "bold red", "warning": "yellow", "info": "cyan"}
_ACTION_STYLE = {"add": "green", "modify": "yellow", "retire": "red", "activate": "blue"}


# Off a terminal (a log file, `| tee`, CI, `ssh -T`) there is no width to fit: every value
# is printed whole, never cut with an ellipsis. rich would assume 80 columns there.
UNBOUNDED_WIDTH = 10_000


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    width = None if stream.isatty() else UNBOUNDED_WIDTH
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=width)


def emit_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def emit_json_line(data: Any) -> None:
    """One compact JSON object on one line (streams of events are JSON lines)."""
    sys.stdout.write(json.dumps(data, separators=(",", ":"), default=str) + "\n")
    sys.stdout.flush()


def error(exc: TightropeError, as_json: bool = False) -> None:
    from rich.markup import escape

    if as_json:
        payload: dict[str, Any] = {
            "error": type(exc).__name__,
            "message": str(exc),
            "hint": exc.hint,
            "exit_code": int(exc.exit_code),
        }
        if isinstance(exc, ConfigError):
            payload["problems"] = [
                {"field": p.field, "message": p.message, "fix": p.fix} for p in exc.problems
            ]
        emit_json(payload)
        return
    err = _console(stderr=True)
    if isinstance(exc, ConfigError):
        # Messages quote what the user or the box wrote (`[host]:port`, an SSID `a[/]b`):
        # never markup.
        where = f" in {escape(exc.source)}" if exc.source else ""
        err.print(f"[bold red]error:[/] the desired state{where} is not valid:")
        for p in exc.problems:
            err.print(f"  [bold]{escape(p.field)}[/]: {escape(p.message)}\n"
                      f"      [dim]fix:[/] {escape(p.fix)}")  # fmt: skip
    else:
        # soft_wrap: a path or an address in a message is never broken across lines (the
        # terminal wraps what is too long for it; a log file keeps it whole).
        err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
    if exc.hint:
        err.print(exc.hint, style="dim", markup=False, soft_wrap=True)  # `[plot]` is no markup


def plan(p: Plan, *, hostname: str, nm_version: str, as_json: bool) -> None:
    plan_data({"host": hostname, "nm_version": nm_version, **p.to_dict()}, as_json=as_json)


def plan_data(d: dict[str, Any], *, as_json: bool) -> None:
    """Render a plan from its JSON form, so a plan made on a remote box renders the same."""
    if as_json:
        emit_json(d)
        return
    from rich.table import Table

    out = _console()
    out.print(f"[bold]Plan for {d['bond']}[/] on {d['host']} (NetworkManager {d['nm_version']})")
    out.print(d["storage"]["summary"] + ".")
    if d["no_change"]:
        out.print("[green]No change:[/] the desired state is already in place.")
    else:
        table = Table(show_header=True, header_style="bold")
        for col in ("action", "profile", "on", "what"):
            table.add_column(col)
        for c in d["changes"]:
            style = _ACTION_STYLE.get(c["action"], "")
            table.add_row(
                f"[{style}]{c['action']}[/]", c["profile"], c["interface"], "\n".join(c["details"])
            )
        out.print(table)
        for f in d["storage"]["files"]:
            out.print(f"  [dim]{f['action']:6}[/] {f['path']}: {f['detail']}")
    for w in d["warnings"]:
        style = _SEVERITY_STYLE.get(w["severity"], "")
        out.print(f"[{style}]{w['severity']}[/] [dim]({w['code']})[/] {w['message']}")
    if d["reconnect_at"] and not d["no_change"]:
        out.print(f"After the change the box answers at [bold]{d['reconnect_at']}[/].")


def _when(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def status(report: StatusReport, as_json: bool) -> None:
    if as_json:
        emit_json(report.to_dict())
        return
    from rich.markup import escape
    from rich.table import Table

    out = _console()
    world = "netplan YAML" if report.storage_world == "netplan" else "keyfiles"
    out.print(
        f"[bold]{report.hostname}[/]: NetworkManager {report.nm_version}, profiles as {world}"
        + (f", {report.checkpoints} checkpoint(s) pending" if report.checkpoints else "")
    )
    if report.pending:
        t = report.pending
        left = f", {t.remaining_s} s left to confirm" if t.remaining_s is not None else ""
        out.print(
            f"[bold yellow]pending {t.kind} {t.id}[/]: {t.phase}{left}"
            + (f"; confirm from {t.reconnect_at}" if t.reconnect_at else "")
        )
    if report.stuck:
        st = report.stuck
        out.print(f"[bold red]change lock stuck[/]: {escape(st.lock)} names transaction "
                  f"{escape(st.id)!r}, which cannot be read ({escape(st.problem)}); no change "
                  "can start until it is freed. To recover:")  # fmt: skip
        for n, step in enumerate(st.recovery, 1):
            out.print(f"  {n}. {escape(step)}")
    if report.last and not report.pending:
        last = report.last
        when = f" at {_when(last.ended)}" if last.ended else ""
        if last.last_seen:  # cut short: when exactly is not known, only between what times
            when = f" (last heard of at {_when(last.last_seen)}, found ended{when})"
        style = "green" if last.outcome == "committed" else "bold yellow"
        out.print(f"last change: {last.kind} {last.id} [{style}]{last.outcome}[/]{when}"
                  + (f": {escape(last.reason)}" if last.reason else ""))  # fmt: skip
    for bond in report.bonds:
        _bond(out, bond)
    if not report.bonds:
        out.print("No bond on this box.")
    table = Table(title="devices", show_header=True, header_style="bold")
    for col in ("device", "type", "state", "addresses", "active profile", "claimed by"):
        table.add_column(col)
    for d in report.devices:
        table.add_row(
            d.interface,
            d.type,
            d.state if d.managed else "unmanaged",
            "\n".join(d.addresses),
            d.active_profile or "",
            "\n".join(d.claimed_by),
        )
    out.print(table)


def _bond(out: Any, b: BondStatus) -> None:
    from rich.table import Table

    out.print(
        f"[bold]{b.name}[/] ({b.state}, profile {b.profile or '-'}): mode {b.mode or '?'}, "
        f"MII {b.mii_status or '?'} every {b.miimon_ms if b.miimon_ms is not None else '?'} ms, "
        f"active [bold]{b.active_port or '-'}[/], primary {b.primary or '[yellow]none[/]'}, "
        f"fail_over_mac {b.fail_over_mac or '?'}"
    )
    out.print(
        f"  addresses {', '.join(b.addresses) or '-'}; default route via {b.gateway or '-'}; "
        f"DNS {', '.join(b.dns) or '-'}"
    )
    table = Table(show_header=True, header_style="bold")
    for col in ("port", "type", "link", "speed", "Wi-Fi", "perm MAC", "MAC", "failures", ""):
        table.add_column(col)
    for p in b.ports:
        wifi = f"{p.ssid} ({p.signal}%)" if p.ssid else ""
        table.add_row(
            p.interface,
            p.type,
            p.link,
            p.speed or "",
            wifi,
            p.permanent_mac or "",
            p.mac,
            "" if p.link_failures is None else str(p.link_failures),
            "[bold green]active[/]" if p.active else "",
        )
    out.print(table)
