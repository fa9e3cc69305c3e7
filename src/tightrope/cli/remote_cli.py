"""`--host`: every command run from the laptop against one box or a few (a thin fleet loop).

Each box is reached through one agent session per address (tightrope.remote); results come
back typed and are rendered here. Changes that move the box (apply, bond, undo) are journeys:
followed to the new address and confirmed there.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from tightrope import proto
from tightrope.cli import inputs, progress, render, render_txn
from tightrope.cli.remote_options import add_remote_options as add_remote_options
from tightrope.cli.remote_options import wants_remote as wants_remote
from tightrope.core.drill import DrillResult, result_from_dict, result_to_dict
from tightrope.core.model import BondConfig
from tightrope.core.status import report_from_dict
from tightrope.errors import Exit, TightropeError, UsageError, worst
from tightrope.remote.hosts import HostEntry, parse_hosts_file
from tightrope.remote.journey import (
    Emit,
    JourneyResult,
    Outcome,
    Reach,
    Tick,
    apply_journey,
    hello,
    request_config,  # fmt: skip
    undo_journey,
)
from tightrope.remote.reach import SshReach
from tightrope.remote.ssh import Ssh, SshOptions
from tightrope.remote.target import parse_target

M = TypeVar("M", bound=proto.Message)


def ssh_options(args: argparse.Namespace) -> SshOptions:
    return SshOptions(args.ssh_config, tuple(args.ssh_option), args.accept_new_host_key)


def entries(args: argparse.Namespace) -> list[HostEntry]:
    out = [HostEntry(parse_target(h)) for h in (args.host or [])]
    if getattr(args, "hosts", None):
        try:
            text = Path(args.hosts).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read --hosts {args.hosts}: {exc}") from None
        out += parse_hosts_file(text)
    if not out:
        raise UsageError("no host given")
    return out


def pyz() -> Path:
    from tightrope.remote.zipapp import build

    return build(Path.home() / ".cache" / "tightrope" / "pyz")


def reach_for(entry: HostEntry, args: argparse.Namespace, app: Path) -> SshReach:
    return SshReach(Ssh(entry.target, ssh_options(args)), app, str(entry.target))


def _each(args: argparse.Namespace, one: Callable[[SshReach], int]) -> int:
    """Run `one` per box in turn; the exit code is the worst box's."""
    app = pyz()
    codes = []
    for entry in entries(args):
        with reach_for(entry, args, app) as reach:
            codes.append(one(reach))
    return worst(codes)


def _ask(reach: SshReach, request: proto.Message, expect: type[M], **kw: Any) -> M:
    channel = reach.open(None)
    try:
        hello(channel)
        return channel.call(request, expect, **kw)
    finally:
        channel.close()


def plan_remote(config: BondConfig, args: argparse.Namespace) -> int:
    data, psk = request_config(config)

    def one(reach: SshReach) -> int:
        answer = _ask(reach, proto.PlanRequest(config=data, psk=psk), proto.PlanAnswer)
        render.plan_data({"host": answer.host, "nm_version": answer.nm_version, **answer.plan},
                         as_json=args.json)  # fmt: skip
        return int(Exit.OK if answer.plan.get("no_change") else Exit.CHANGES)

    return _each(args, one)


def status_remote(args: argparse.Namespace) -> int:
    def one(reach: SshReach) -> int:
        answer = _ask(reach, proto.StatusRequest(), proto.StatusAnswer)
        try:
            report = report_from_dict(answer.status)
        except (TypeError, KeyError, ValueError) as exc:
            raise TightropeError(f"{reach.name} sent a status that is not tightrope's: {exc}",
                                 hint="Run the command again (it refreshes the box's "
                                 "copy).") from None  # fmt: skip
        render.status(report, as_json=args.json)
        return int(Exit.OK)

    return _each(args, one)


def log_remote(args: argparse.Namespace) -> int:
    def one(reach: SshReach) -> int:
        if args.txn:
            v = _ask(reach, proto.TxnRequest(action="log", txn=proto.valid_txn_id(args.txn)),
                     proto.TxnView)  # fmt: skip
            render_txn.log(v, as_json=args.json)
        else:
            h = _ask(reach, proto.HistoryRequest(), proto.HistoryAnswer)
            render_txn.history(h.txns, as_json=args.json)
        return int(Exit.OK)

    return _each(args, one)


def settle_remote(args: argparse.Namespace, action: str) -> int:
    """confirm / rollback from the laptop, waiting for the end as on the box."""
    txn = proto.valid_txn_id(args.txn) if args.txn else None
    want = "committed" if action == "confirm" else "rolled-back"

    def one(reach: SshReach) -> int:
        # The box tells how it stands every 5 s (with the rollback deadline once it counts):
        # on a terminal a live countdown, otherwise one line each, naming the box.
        settling = render_txn.Settling("confirm" if action == "confirm" else "rollback",
                                       args.json)  # fmt: skip
        live = settling.countdown is not None and settling.countdown.live

        def event(e: proto.Event) -> None:
            if live and e.txn is not None:
                settling(e.txn)
                return
            render_txn.journey_event(reach.name, action, e.message, args.json)

        try:
            v = _ask(reach, proto.TxnRequest(action=action, txn=txn, wait_s=90), proto.TxnView,
                     timeout=150, on_event=event)  # fmt: skip
        finally:
            settling.done()
        render_txn.outcome(v, as_json=args.json)
        return int(Exit.OK if v.outcome == want else Exit.FAILED)

    return _each(args, one)


Journey = Callable[[SshReach, HostEntry, Emit, Tick], JourneyResult]


def _fleet(args: argparse.Namespace, journey: Journey) -> int:
    """Run one journey per box (canaries first, then in parallel) and sum them up."""
    hosts = entries(args)
    app = pyz()
    screen = render_txn.JourneyScreen(args.json, progress.for_stdout(), boxes=len(hosts))

    def emit_for(entry: HostEntry) -> Emit:
        def emit(phase: str, message: str) -> None:
            screen.event(str(entry.target), phase, message)

        return emit

    def one(entry: HostEntry) -> JourneyResult:
        with reach_for(entry, args, app) as reach:
            try:
                return journey(reach, entry, emit_for(entry), screen.tick)
            except TightropeError as exc:
                return JourneyResult(str(entry.target), entry.target.host, None, Outcome.FAILED,
                                     str(exc), exit_code=int(exc.exit_code))  # fmt: skip

    results: list[JourneyResult] = []
    canary = getattr(args, "canary", 0) or 0
    first, rest = (hosts[:canary], hosts[canary:]) if canary else ([], hosts)
    try:
        for batch in ([first] if first else []) + [rest]:
            with ThreadPoolExecutor(max_workers=max(1, getattr(args, "parallel", 1))) as pool:
                results += list(pool.map(one, batch))
            if any(r.exit_code != Exit.OK for r in results):
                results += [JourneyResult(str(e.target), e.target.host, None, Outcome.SKIPPED,
                                          "an earlier box failed", exit_code=int(Exit.FAILED))
                            for e in hosts[len(results):]]  # fmt: skip
                break
    finally:
        screen.done()  # Ctrl-C too: "interrupted" must not land on the live line
    code = worst([r.exit_code for r in results])
    render_txn.journey_summary(results, code, args.json)
    return code


def apply_fleet(config: BondConfig, args: argparse.Namespace) -> int:
    single = len(entries(args)) == 1
    lock = threading.Lock()  # one plan and one question on the screen at a time

    def journey(reach: SshReach, entry: HostEntry, emit: Emit, tick: Tick) -> JourneyResult:
        def consent(answer: proto.PlanAnswer) -> bool:
            with lock:
                render_txn.journey_plan(reach.name, {"host": answer.host,
                                        "nm_version": answer.nm_version, **answer.plan},
                                        args.json)  # fmt: skip
                return bool(args.yes) or (single and render_txn.consent(
                    f"Apply these changes to {answer.host}?"))  # fmt: skip

        return apply_journey(reach, entry.adapt(config), inputs.apply_options(args),
                             consent=consent, emit=emit, tick=tick,
                             watch=reach.outage_watch)  # fmt: skip

    return _fleet(args, journey)


def undo_remote(args: argparse.Namespace) -> int:
    txn = proto.valid_txn_id(args.txn) if args.txn else None
    to = proto.valid_address(args.to) if getattr(args, "to", None) else None

    def journey(reach: SshReach, entry: HostEntry, emit: Emit, tick: Tick) -> JourneyResult:
        return undo_journey(reach, txn, inputs.apply_options(args), emit=emit, to=to, tick=tick)

    return _fleet(args, journey)


def drill_remote(args: argparse.Namespace, request: proto.DrillRequest,
                 ) -> list[tuple[str, DrillResult | TightropeError]]:  # fmt: skip
    """The drill on each box in turn (one box's failure does not stop the others): each box's
    name with its result or its error."""
    out: list[tuple[str, DrillResult | TightropeError]] = []
    app = pyz()
    for entry in entries(args):
        with reach_for(entry, args, app) as reach:
            try:
                # The answer comes when the drill has ended: lead, seconds down, tail, ping.
                answer = _ask(reach, request, proto.DrillAnswer, timeout=request.seconds + 120)
                out.append((reach.name, drill_result(reach.name, answer)))
            except TightropeError as exc:
                out.append((reach.name, exc))
    return out


def drill_result(name: str, answer: proto.DrillAnswer) -> DrillResult:
    """The box's drill document, read back; one the laptop's tightrope would not have written
    (a coerced type, NaN, a missing field) is outside the protocol."""
    try:
        result = result_from_dict(answer.result)
        # result_from_dict converts what it can (str(x), float("1e9")): a faithful document
        # is one that reads back into itself.
        if result_to_dict(result) != answer.result:
            raise ValueError("it does not read back into itself")
    except (TypeError, KeyError, ValueError) as exc:
        raise TightropeError(f"{name} answered outside tightrope's protocol: drill result: {exc}",
                             hint="Run the command again (it refreshes the box's "
                             "copy).") from None  # fmt: skip
    return result


WatchSink = Callable[[str, proto.WatchEvent], None]


def watch_remote(args: argparse.Namespace, seconds: float | None, on_event: WatchSink) -> int:
    """Each box's events as they come (`watch --host`), one box at a time, for `seconds`
    (None: until Ctrl-C, which ends it quietly)."""
    app = pyz()
    for entry in entries(args):
        with reach_for(entry, args, app) as reach:
            try:
                _watch_one(reach, seconds, on_event)
            except KeyboardInterrupt:
                return int(Exit.OK)
    return int(Exit.OK)


def _watch_one(reach: Reach, seconds: float | None, on_event: WatchSink,
               clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
    """Watch one box; a session that drops (the change being watched moved the box's
    network under it) is opened again until the watch's time is up."""
    until = None if seconds is None else clock() + seconds
    while until is None or clock() < until:
        try:
            _watch_session(reach, None if until is None else until - clock(), on_event)
            return
        except TightropeError as exc:
            if getattr(exc, "exit_code", None) != Exit.NM_UNREACHABLE:
                raise
            on_event(reach.name, proto.WatchEvent(source="tightrope", subject=reach.name,
                                                  what=f"session lost ({exc}); reconnecting",
                                                  at=time.time()))  # fmt: skip
            sleep(1.0)


def _watch_session(reach: Reach, seconds: float | None, on_event: WatchSink) -> None:
    def event(e: proto.Event) -> None:
        if e.watch is not None:
            on_event(reach.name, e.watch)

    channel = reach.open(None)
    try:
        hello(channel)
        left = seconds
        while left is None or left > 0:  # a watch longer than the protocol allows asks again
            ask = min(proto.WatchRequest.MAX_SECONDS, left or proto.WatchRequest.MAX_SECONDS)
            # Quiet minutes are normal: the answer comes when `ask` has passed.
            channel.call(proto.WatchRequest(seconds=ask), proto.WatchAnswer,
                         timeout=ask + 60, on_event=event)  # fmt: skip
            left = None if left is None else left - ask
    finally:
        channel.close()  # the box's agent ends its watch when the session goes
