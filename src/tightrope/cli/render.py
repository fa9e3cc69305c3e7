"""The only place that prints results: human (rich, or plain text for status) or --json.
Errors go to stderr."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any, Literal, TextIO

from tightrope.cli.plain import Cell, Painted, Style, table
from tightrope.cli.safe import plain, plain_lines, safe, safe_lines
from tightrope.core.printable import printable
from tightrope.core.status import BondStatus, StatusReport
from tightrope.errors import ConfigError, TightropeError

if TYPE_CHECKING:  # the plan's module (and all it imports) is not needed to show a status
    from tightrope.core.plan import Plan

_SEVERITY_STYLE = {"danger": "bold red", "warning": "yellow", "info": "cyan"}
_ACTION_STYLE = {"add": "green", "modify": "yellow", "retire": "red", "activate": "blue"}


# Off a terminal (a log file, `| tee`, CI, `ssh -T`) there is no width to fit: every value
# is printed whole, never cut with an ellipsis. rich would assume 80 columns there.
UNBOUNDED_WIDTH = 10_000


def _console(stderr: bool = False, width: int | None = None) -> Any:
    """`width`: the terminal's, unless a test gives one."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if width is None:
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
        where = f" in {safe(exc.source)}" if exc.source else ""
        err.print(f"[bold red]error:[/] the desired state{where} is not valid:")
        for p in exc.problems:
            err.print(f"  [bold]{safe(p.field)}[/]: {safe(p.message)}\n"
                      f"      [dim]fix:[/] {safe(p.fix)}")  # fmt: skip
    else:
        # soft_wrap: a path or an address in a message is never broken across lines (the
        # terminal wraps what is too long for it; a log file keeps it whole).
        err.print(f"[bold red]error:[/] {safe(exc)}", soft_wrap=True)
    if exc.hint:
        # `[plot]` in a hint is no markup
        err.print(printable(exc.hint), style="dim", markup=False, soft_wrap=True)


def plan(p: Plan, *, hostname: str, nm_version: str, as_json: bool) -> None:
    plan_data({"host": hostname, "nm_version": nm_version, **p.to_dict()}, as_json=as_json)


def plan_data(d: dict[str, Any], *, as_json: bool) -> None:
    """Render a plan from its JSON form, so a plan made on a remote box renders the same."""
    if as_json:
        emit_json(d)
        return
    from rich.table import Table

    out = _console()
    out.print(f"[bold]Plan for {safe(d['bond'])}[/] on {safe(d['host'])} "
              f"(NetworkManager {safe(d['nm_version'])})")
    out.print(safe(d["storage"]["summary"]) + ".")
    if d["no_change"]:
        out.print("[green]No change:[/] the desired state is already in place.")
    else:
        table = Table(show_header=True, header_style="bold")
        for col in ("action", "profile", "on", "what"):
            table.add_column(col, overflow="fold")  # breaks, never cuts
        for c in d["changes"]:
            style = _ACTION_STYLE.get(c["action"], "")
            table.add_row(
                f"[{style}]{safe(c['action'])}[/]", safe(c["profile"]), safe(c["interface"]),
                safe_lines(c["details"]),
            )
        out.print(table)
        for f in d["storage"]["files"]:
            out.print(f"  [dim]{safe(f['action']):6}[/] {safe(f['path'])}: {safe(f['detail'])}")
        yaml_text = d["storage"].get("netplan_yaml", "")
        if d["storage"].get("commit_as") == "netplan" and yaml_text:
            out.print(f"{safe(d['storage']['netplan_file'])} will read (PSK masked):")
            out.print(safe_lines(yaml_text.rstrip("\n").split("\n")), highlight=False)
    for w in d["warnings"]:
        style = _SEVERITY_STYLE.get(w["severity"], "")
        out.print(f"[{style}]{safe(w['severity'])}[/] [dim]({safe(w['code'])})[/] "
                  f"{safe(w['message'])}")
    if d["reconnect_at"] and not d["no_change"]:
        out.print(f"After the change the box answers at [bold]{safe(d['reconnect_at'])}[/].")


def _when(t: float) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _width(stream: TextIO) -> int | None:
    """The terminal's columns, or None off a terminal: nothing there to fit, every value
    printed whole (as UNBOUNDED_WIDTH does for rich)."""
    if not stream.isatty():
        return None
    import shutil

    return shutil.get_terminal_size().columns


def status(report: StatusReport, as_json: bool, *, width: int | Literal["auto"] | None = "auto",
           style: Style | None = None) -> None:  # fmt: skip
    """`width` and `style`: the terminal's (or none, off one) unless a test gives them.

    Printed without rich: status answers at `nmcli device status` speed on a Pi only without
    importing it."""
    if as_json:
        emit_json(report.to_dict())
        return
    out = sys.stdout
    cols = _width(out) if width == "auto" else width
    st = Style.detect(out) if style is None else style
    world = "netplan YAML" if report.storage_world == "netplan" else "keyfiles"
    lines = [
        f"{st.bold(plain(report.hostname))}: NetworkManager {plain(report.nm_version)}, "
        f"profiles as {world}"
        + (f", {report.checkpoints} checkpoint(s) pending" if report.checkpoints else "")
    ]
    if report.pending:
        t = report.pending
        left = f", {t.remaining_s} s left to confirm" if t.remaining_s is not None else ""
        lines.append(
            f"{st.bold_yellow(f'pending {plain(t.kind)} {plain(t.id)}')}: {plain(t.phase)}{left}"
            + (f"; confirm from {plain(t.reconnect_at)}" if t.reconnect_at else "")
        )
    if report.stuck:
        s = report.stuck
        lines.append(f"{st.bold_red('change lock stuck')}: {plain(s.lock)} names transaction "
                     f"{plain(s.id)!r}, which cannot be read ({plain(s.problem)}); no change "
                     "can start until it is freed. To recover:")  # fmt: skip
        lines += [f"  {n}. {plain(step)}" for n, step in enumerate(s.recovery, 1)]
    if report.last and not report.pending:
        last = report.last
        when = f" at {_when(last.ended)}" if last.ended else ""
        if last.last_seen:  # cut short: when exactly is not known, only between what times
            when = f" (last heard of at {_when(last.last_seen)}, found ended{when})"
        paint = st.green if last.outcome == "committed" else st.bold_yellow
        lines.append(f"last change: {plain(last.kind)} {plain(last.id)} "
                     f"{paint(plain(last.outcome))}{when}"
                     + (f": {plain(last.reason)}" if last.reason else ""))  # fmt: skip
    for bond in report.bonds:
        lines += ["", *_bond(bond, cols, st)]
    if not report.bonds:
        lines.append("No bond on this box.")
    rows = [
        (plain(d.interface), plain(d.type),
         (plain(d.state) + (f" ({plain(d.why)})" if d.why else "")) if d.managed else "unmanaged",
         plain_lines(d.addresses), plain(d.active_profile or ""), plain_lines(d.claimed_by))
        for d in report.devices
    ]  # fmt: skip
    lines.append("")
    lines += table(("device", "type", "state", "addresses", "active profile", "claimed by"),
                   rows, width=cols, title="devices", style=st)  # fmt: skip
    out.write("\n".join(lines) + "\n")
    out.flush()


def _monitor(b: BondStatus) -> str:
    if b.arp_interval_ms:
        missed = f", down after {b.arp_missed_max} missed" if b.arp_missed_max else ""
        return (f"ARP every {b.arp_interval_ms} ms to {plain(', '.join(b.arp_targets) or '?')}"
                f"{missed} (link {plain(b.mii_status or '?')})")  # fmt: skip
    every = b.miimon_ms if b.miimon_ms is not None else "?"
    return f"MII {plain(b.mii_status or '?')} every {every} ms"


_PORT_INDENT = "  "


def _bond(b: BondStatus, width: int | None, st: Style) -> list[str]:
    lines = [
        f"{st.bold(plain(b.name))} ({plain(b.state)}, profile {plain(b.profile or '-')}"
        + (f" from {plain(b.source)}" if b.source else "")
        + f"): mode {plain(b.mode or '?')}, {_monitor(b)}, "
        f"active {st.bold(plain(b.active_port or '-'))}, "
        f"primary {plain(b.primary) if b.primary else st.yellow('none')}, "
        f"fail_over_mac {plain(b.fail_over_mac or '?')}",
        f"  addresses {plain(', '.join(b.addresses) or '-')}; default route via "
        f"{plain(b.gateway or '-')}; DNS {plain(', '.join(b.dns) or '-')}",
    ]
    if not b.ports:
        return [*lines, f"{_PORT_INDENT}no port"]
    rows: list[list[Cell]] = [
        [plain(p.interface), plain(p.type), plain(p.link), plain(p.speed or ""),
         f"{plain(p.ssid)} ({plain(p.signal)}%)" if p.ssid else "",
         plain(p.permanent_mac or ""), plain(p.mac),
         "" if p.link_failures is None else str(p.link_failures),
         Painted("active" if p.active else "", st.bold_green)]
        for p in b.ports
    ]  # fmt: skip
    # The port table sits under its bond, indented like the addresses line.
    inner = None if width is None else width - len(_PORT_INDENT)
    headers = ("port", "type", "link", "speed", "Wi-Fi", "perm MAC", "MAC", "failures", "")
    return lines + [(_PORT_INDENT + line).rstrip()
                    for line in table(headers, rows, width=inner, style=st)]  # fmt: skip
