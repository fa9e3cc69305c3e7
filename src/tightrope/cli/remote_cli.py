"""`--host`: every command run from the laptop against one box or a few (a thin fleet loop).

apply/bond follow the journey (remote.journey); plan goes through the box's agent so the PSK
is compared there; the other commands run as they are on the box, their output passed through.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from tightrope.cli import render, render_txn
from tightrope.core.model import BondConfig
from tightrope.errors import Exit, TightropeError, UsageError
from tightrope.remote.hosts import HostEntry, parse_hosts_file
from tightrope.remote.journey import JourneyResult, agent, apply_remote, request_for
from tightrope.remote.ssh import Ssh, SshOptions
from tightrope.remote.target import parse_target


def add_remote_options(p: argparse.ArgumentParser, *, fleet: bool = False) -> None:
    g = p.add_argument_group("remote (run from your laptop)")
    g.add_argument(
        "--host",
        action="append",
        metavar="[USER@]HOST[:PORT]",
        help="the box, over SSH (repeat for several boxes)" if fleet else "the box",
    )
    if fleet:
        g.add_argument("--hosts", metavar="FILE", help="boxes, one per line, or YAML")
        g.add_argument("--parallel", type=int, default=1, metavar="N")
        g.add_argument(
            "--canary", type=int, default=0, metavar="N", help="do N boxes first; stop if any fails"
        )
    g.add_argument("--ssh-config", metavar="FILE", help="ssh -F FILE")
    g.add_argument(
        "--ssh-option", action="append", default=[], metavar="KEY=VALUE", help="ssh -o KEY=VALUE"
    )
    g.add_argument(
        "--accept-new-host-key",
        action="store_true",
        help="trust the box's key on first contact (StrictHostKeyChecking=accept-new)",
    )


def wants_remote(args: argparse.Namespace) -> bool:
    return bool(getattr(args, "host", None) or getattr(args, "hosts", None))


def ssh_options(args: argparse.Namespace) -> SshOptions:
    return SshOptions(args.ssh_config, tuple(args.ssh_option), args.accept_new_host_key)


def entries(args: argparse.Namespace) -> list[HostEntry]:
    out = [HostEntry(parse_target(h)) for h in (args.host or [])]
    if getattr(args, "hosts", None):
        try:
            text = Path(args.hosts).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read --hosts {args.hosts}: {exc.strerror}") from None
        out += parse_hosts_file(text)
    if not out:
        raise UsageError("no host given")
    return out


def _pyz() -> Path:
    from tightrope.remote.zipapp import build

    return build(Path.home() / ".cache" / "tightrope" / "pyz")


def apply_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"confirm_timeout": args.confirm_timeout, "verify_timeout": args.verify_timeout,
            "auto_confirm": args.auto_confirm}  # fmt: skip


def plan_remote(config: BondConfig, args: argparse.Namespace) -> int:
    code = Exit.OK
    for entry in entries(args):
        ssh = Ssh(entry.target, ssh_options(args))
        path = ssh.ensure_pyz(_pyz())
        answer = agent(ssh, path, request_for(entry.adapt(config), "plan", {}))
        render.plan_data({"host": answer["host"], "nm_version": answer["nm_version"],
                          **answer["plan"]}, as_json=args.json)  # fmt: skip
        if not answer["plan"]["no_change"]:
            code = Exit.CHANGES
        ssh.close()
    return int(code)


def apply_fleet(config: BondConfig, args: argparse.Namespace) -> int:
    hosts = entries(args)
    pyz = _pyz()
    lock = threading.Lock()
    single = len(hosts) == 1

    def one(entry: HostEntry) -> JourneyResult:
        ssh = Ssh(entry.target, ssh_options(args))

        def emit(phase: str, message: str) -> None:
            with lock:
                render_txn.journey_event(str(entry.target), phase, message, args.json)

        def consent(answer: dict[str, Any]) -> bool:
            with lock:
                render.plan_data({"host": answer["host"], "nm_version": answer["nm_version"],
                                  **answer["plan"]}, as_json=args.json)  # fmt: skip
                return args.yes or (single and render_txn.consent(
                    f"Apply these changes to {answer['host']}?"))  # fmt: skip

        try:
            return apply_remote(ssh, entry.adapt(config), pyz, options=apply_options(args),
                                consent=consent, emit=emit)  # fmt: skip
        except TightropeError as exc:
            return JourneyResult(str(entry.target), entry.target.host, None, "failed", str(exc))

    results: list[JourneyResult] = []
    canary, rest = hosts[: args.canary] if args.canary else [], hosts[args.canary :]
    for batch in ([canary] if canary else []) + [rest]:
        with ThreadPoolExecutor(max_workers=max(1, args.parallel)) as pool:
            for result in pool.map(one, batch):
                results.append(result)
        if any(r.outcome not in ("committed", "no-change") for r in results):
            skipped = hosts[len(results) :]
            results += [JourneyResult(str(e.target), e.target.host, None, "skipped",
                                      "an earlier box failed") for e in skipped]  # fmt: skip
            break
    render_txn.journey_summary(results, args.json)
    ok = all(r.outcome in ("committed", "no-change") for r in results)
    return int(Exit.OK if ok else Exit.FAILED)


def passthrough(args: argparse.Namespace, argv: list[str]) -> int:
    """Run this same command on each box (as root) and show its output."""
    code = 0
    for entry in entries(args):
        ssh = Ssh(entry.target, ssh_options(args))
        path = ssh.ensure_pyz(_pyz())
        cp = ssh.root(f"python3 {path} " + shlex.join(argv), timeout=300)
        sys.stdout.write(cp.stdout.decode(errors="replace"))
        sys.stderr.write(cp.stderr.decode(errors="replace"))
        code = code or cp.returncode
        ssh.close()
    return code


def stream(args: argparse.Namespace, argv: list[str]) -> int:
    """Like passthrough, but the box's output is shown as it comes (`watch --host`); one
    box at a time."""
    code = 0
    for entry in entries(args):
        ssh = Ssh(entry.target, ssh_options(args))
        path = ssh.ensure_pyz(_pyz())
        code = code or ssh.root_streaming(f"python3 {path} " + shlex.join(argv))
        ssh.close()
    return code


def strip_remote_args(argv: list[str]) -> list[str]:
    """The command line minus the options that only mean something on the laptop."""
    out: list[str] = []
    skip = False
    with_value = {"--host", "--hosts", "--parallel", "--canary", "--ssh-config", "--ssh-option"}
    for arg in argv:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if name in with_value:
            skip = "=" not in arg
            continue
        if arg == "--accept-new-host-key":
            continue
        out.append(arg)
    return out
