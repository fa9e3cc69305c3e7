"""`watch` and `drill`: show what the bond really does."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from tightrope.cli import remote_cli
from tightrope.cli.render import _console, emit_json
from tightrope.core.drill import (
    DrillRefused,
    DrillResult,
    drill_plan,
    result_from_dict,
    result_to_dict,
    sparkline,
)
from tightrope.errors import Exit, TightropeError


def _watch(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return remote_cli.stream(args, remote_cli.strip_remote_args(args.argv))
    from tightrope.prove.watch import Watch

    watch = Watch()
    watch.start()
    out = _console()
    until = time.time() + args.seconds if args.seconds else None
    try:
        while until is None or time.time() < until:
            try:
                ev = watch.events.get(timeout=0.2)
            except Exception:
                continue
            if args.json:
                print(json.dumps(ev.to_dict()), flush=True)
            else:
                stamp = (
                    time.strftime("%H:%M:%S", time.localtime(ev.at))
                    + f".{int(ev.at % 1 * 1000):03d}"
                )
                out.print(f"{stamp} [dim]{ev.source:6}[/] [bold]{ev.subject}[/] {ev.what}")
    except KeyboardInterrupt:
        pass
    finally:
        watch.stop()
    return int(Exit.OK)


def render_drill(result: DrillResult, picture: str | None, as_json: bool) -> None:
    data = result_to_dict(result)
    if picture:
        from tightrope.prove.drill import save_picture

        data["picture"] = str(save_picture(result, Path(picture)))
    if as_json:
        emit_json(data)
        return
    from rich.table import Table

    out = _console()
    table = Table(title=f"failover drill on {result.plan.bond}", header_style="bold")
    for col in ("", "value"):
        table.add_column(col)
    table.add_row(
        "port taken down", f"{result.plan.port} for {result.up_at - result.down_at:.1f} s"
    )
    table.add_row("backup", ", ".join(result.plan.backups))
    table.add_row("probes", f"every {result.interval_ms:.0f} ms to {result.plan.target}")
    table.add_row("failover outage", f"{data['failover_ms']:.0f} ms")
    table.add_row("fail-back outage", f"{data['failback_ms']:.0f} ms")
    table.add_row("probes lost", f"{result.lost} of {result.sent}")
    if result.miimon_ms:
        table.add_row("MII interval", f"{result.miimon_ms} ms (the floor of detection here)")
    out.print(table)
    out.print(sparkline(result))
    for ev in result.events:
        out.print(f"  +{ev.at - result.started:6.3f} s  {ev.what}")
    if picture:
        out.print(f"timeline picture: {data['picture']}")


def _drill(args: argparse.Namespace) -> int:
    if remote_cli.wants_remote(args):
        return _drill_remote(args)
    from tightrope.box.env import real_env
    from tightrope.prove.drill import run_drill

    env = real_env()
    env.require_root()
    snap = env.read_snapshot(False)
    try:
        plan = drill_plan(snap, args.bond, args.target)
    except DrillRefused as exc:
        raise TightropeError(
            f"drill refused: {exc}", hint="Fix the backup port first; `tightrope status` shows it."
        ) from None
    result = run_drill(plan, seconds=args.seconds, interval_ms=args.interval_ms)
    render_drill(result, args.picture, args.json)
    return int(Exit.OK)


def _drill_remote(args: argparse.Namespace) -> int:
    """Run the drill on the box, draw its picture here."""
    argv = remote_cli.strip_remote_args(args.argv)
    if "--picture" in argv:
        i = argv.index("--picture")
        del argv[i : i + 2]
    if "--json" not in argv:
        argv.append("--json")
    for _name, data in remote_cli.drill_remote(args, argv):
        if isinstance(data, dict) and "error" in data:
            raise TightropeError(str(data.get("message")), str(data.get("hint", "")))
        render_drill(result_from_dict(data), args.picture, args.json)
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("watch", help="live bond, link, Wi-Fi and address events")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--seconds", type=float, default=0, help="stop after this long (0: never)")
    remote_cli.add_remote_options(p)
    p.set_defaults(func=_watch)
    p = sub.add_parser(
        "drill", help="failover drill: take the active port down, measure the outage"
    )
    p.add_argument("--bond", help="the bond (default: the only one)")
    p.add_argument("--seconds", type=float, default=10, help="how long the port stays down (10)")
    p.add_argument("--target", help="what to probe (default: the bond's gateway)")
    p.add_argument("--interval-ms", type=int, default=10, help="probe interval (10)")
    p.add_argument("--picture", metavar="FILE", help="save a timeline (.png or .svg; needs [plot])")
    p.add_argument("--json", action="store_true")
    remote_cli.add_remote_options(p)
    p.set_defaults(func=_drill)
