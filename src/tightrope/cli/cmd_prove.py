"""`watch` and `drill`: show what the bond really does.

On the box they call the box-side application layer; with --host the box's agent does the same
and answers typed, and everything is rendered here (the picture too).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import re
import time
from pathlib import Path
from typing import Any

from tightrope import proto
from tightrope.cli import remote_cli
from tightrope.cli.render import _console, emit_json, emit_json_line
from tightrope.cli.safe import safe
from tightrope.core.drill import DrillFault, DrillResult, result_to_dict, sparkline
from tightrope.errors import Exit, TightropeError, UsageError, worst


def watch_line(ev: proto.WatchEvent, as_json: bool, host: str | None = None) -> None:
    """One event, as it comes; `host` names the box when several are watched."""
    if as_json:
        doc = {"at": round(ev.at, 3), "source": ev.source, "subject": ev.subject,
               "what": ev.what}  # fmt: skip
        emit_json_line(doc if host is None else {"host": host, **doc})
        return
    stamp = time.strftime("%H:%M:%S", time.localtime(ev.at)) + f".{int(ev.at % 1 * 1000):03d}"
    where = f"{safe(host)} " if host is not None else ""
    _console().print(f"{stamp} {where}[dim]{safe(ev.source):6}[/] [bold]{safe(ev.subject)}[/] "
                     f"{safe(ev.what)}")  # fmt: skip


def _watch(args: argparse.Namespace) -> int:
    if not (math.isfinite(args.seconds) and args.seconds >= 0):
        raise UsageError(f"--seconds {args.seconds}: give a number of seconds, or 0 for no end")
    seconds = args.seconds or None
    if remote_cli.wants_remote(args):
        several = len(remote_cli.entries(args)) > 1

        def show(host: str, ev: proto.WatchEvent) -> None:
            watch_line(ev, args.json, host if several else None)

        return remote_cli.watch_remote(args, seconds, show)
    from tightrope.box import app
    from tightrope.box.env import real_env

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how a watch without end ends
        app.watch(real_env(), seconds, lambda ev: watch_line(ev, args.json))
    return int(Exit.OK)


def _drill_doc(result: DrillResult, picture: Path | None) -> dict[str, Any]:
    data = result_to_dict(result)
    if picture is not None:
        from tightrope.prove.drill import save_picture

        data["picture"] = str(save_picture(result, picture))
    return data


def _detected(result: DrillResult) -> str:
    det = result.detection()
    floor = f"floor {det.floor_ms} ms: {det.floor}" if det.floor_ms else f"floor {det.floor}"
    if det.after_ms is None:
        return f"not by {det.by}: the bond kept {safe(result.plan.port)} ({floor})"
    return f"by {det.by} after {det.after_ms:.0f} ms ({floor})"


def render_drill(result: DrillResult, picture: Path | None, as_json: bool,
                 host: str | None = None) -> None:  # fmt: skip
    data = _drill_doc(result, picture)
    if as_json:
        emit_json(data)
        return
    from rich.table import Table

    out = _console()
    title = f"failover drill on {result.plan.bond}" + (f" ({host})" if host else "")
    table = Table(title=safe(title), header_style="bold")
    for col in ("", "value"):
        table.add_column(col, overflow="fold")  # breaks, never cuts
    held = f"{safe(result.plan.port)} for {result.up_at - result.down_at:.1f} s"
    if result.plan.fault is DrillFault.PATH:
        table.add_row("path cut (link up)", held)
    else:
        table.add_row("port taken down", held)
    table.add_row("backup", safe(", ".join(result.plan.backups)))
    table.add_row("probes", f"every {result.interval_ms:.0f} ms to {safe(result.plan.target)}")
    table.add_row("failover outage", f"{data['failover_ms']:.0f} ms")
    table.add_row("fail-back outage", f"{data['failback_ms']:.0f} ms")
    table.add_row("probes lost", f"{result.lost} of {result.sent}")
    table.add_row("detected", _detected(result))
    out.print(table)
    out.print(sparkline(result))
    for ev in result.events:
        out.print(f"  +{ev.at - result.started:6.3f} s  {safe(ev.what)}")
    if picture is not None:
        out.print(f"timeline picture: {safe(data['picture'])}")


def _drill_request(args: argparse.Namespace) -> proto.DrillRequest:
    request = proto.DrillRequest(bond=args.bond, target=args.target, seconds=args.seconds,
                                 interval_ms=args.interval_ms, fault=args.fault)  # fmt: skip
    try:
        request.check()
    except proto.ProtocolError as exc:
        raise UsageError(f"drill: {exc}", hint=f"--seconds more than 0 and at most "
                         f"{proto.DrillRequest.MAX_SECONDS:g}, --interval-ms 1 to "
                         f"{proto.DrillRequest.MAX_INTERVAL_MS}, --target an IP "
                         "address") from None  # fmt: skip
    return request


def _picture_for(picture: Path, host: str) -> Path:
    """With several boxes, one picture each: the box's name before the suffix."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", host)
    return picture.with_name(f"{picture.stem}-{name}{picture.suffix}")


def _drill(args: argparse.Namespace) -> int:
    request = _drill_request(args)
    picture = Path(args.picture) if args.picture else None
    if picture is not None:
        from tightrope.prove.drill import check_picture

        check_picture(picture)
    if remote_cli.wants_remote(args):
        return _drill_remote(args, request, picture)
    from tightrope.box import app
    from tightrope.box.env import real_env

    render_drill(app.drill(real_env(), request), picture, args.json)
    return int(Exit.OK)


def _drill_remote(args: argparse.Namespace, request: proto.DrillRequest,
                  picture: Path | None) -> int:  # fmt: skip
    """The drill on the box(es), rendered and drawn here. --json: exactly one document, the
    box's drill; with several boxes one holding them all, each with its host (or error)."""
    results = remote_cli.drill_remote(args, request)
    if len(results) == 1:
        ((_name, got),) = results
        if isinstance(got, TightropeError):
            raise got
        render_drill(got, picture, args.json)
        return int(Exit.OK)
    code = worst([int(got.exit_code) if isinstance(got, TightropeError) else int(Exit.OK)
                  for _, got in results])  # fmt: skip
    if args.json:
        docs = [{"host": name, **_drill_doc(got, picture and _picture_for(picture, name))}
                if not isinstance(got, TightropeError) else
                {"host": name, "error": type(got).__name__, "message": str(got),
                 "hint": got.hint, "exit_code": int(got.exit_code)}
                for name, got in results]  # fmt: skip
        emit_json({"exit_code": code, "results": docs})
        return code
    from tightrope.cli.render import error

    for name, got in results:
        if isinstance(got, TightropeError):
            _console().print(f"[bold]{safe(name)}[/]:")
            error(got)
        else:
            render_drill(got, picture and _picture_for(picture, name), False, host=name)
    return code


def register(sub: Any) -> None:
    p = sub.add_parser("watch", help="live bond, link, Wi-Fi and address events")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--seconds", type=float, default=0,
                   help="stop after this many seconds, 0 for never (default: 0)")  # fmt: skip
    remote_cli.add_remote_options(p)
    p.set_defaults(func=_watch)
    p = sub.add_parser(
        "drill", help="failover drill: take the active port down, measure the outage"
    )
    p.add_argument("--bond", help="the bond (default: the only one)")
    p.add_argument("--seconds", type=float, default=10,
                   help="how long the port stays down (default: 10)")  # fmt: skip
    p.add_argument("--fault", choices=("link", "path"), default="link",
                   help="link: take the port down, as a pulled cable; path: drop its traffic "
                   "with the link kept up, as a switch that lost its uplink (default: link)")
    p.add_argument("--target", help="what to probe (default: the bond's gateway)")
    p.add_argument("--interval-ms", type=int, default=10, help="probe interval (default: 10)")
    p.add_argument("--picture", metavar="FILE", help="save a timeline (.png or .svg; needs [plot])")
    p.add_argument("--json", action="store_true")
    remote_cli.add_remote_options(p)
    p.set_defaults(func=_drill)
