"""The failover drill on the box: take the active port down (or cut its path with the link
kept up), probe, bring it back, measure; and its timeline picture, drawn wherever the result
is shown (the laptop, with --host).

A guard timer (a transient systemd unit) brings the port back after the drill's length plus a
margin even if this process or the SSH session that started it dies mid-drill.

The dead path is made with tc on the port itself (clsact, a matchall filter dropping every
frame in and out): the switch is not ours to touch, and the link must stay up. Removing the
clsact qdisc removes the filters with it, so the guard has one command to run.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from tightrope.core.drill import DrillFault, DrillPlan, DrillResult, PortEvent, parse_ping
from tightrope.core.printable import printable
from tightrope.core.procbond import parse_proc_bond
from tightrope.errors import TightropeError, UsageError

GUARD_MARGIN_S = 15


def _ip() -> str:
    return shutil.which("ip") or "/usr/sbin/ip"


def _tc() -> str:
    return shutil.which("tc") or "/usr/sbin/tc"


def _cut(plan: DrillPlan) -> list[list[str]]:
    port = plan.port
    if plan.fault is DrillFault.LINK:
        return [[_ip(), "link", "set", "dev", port, "down"]]
    return [[_tc(), "qdisc", "add", "dev", port, "clsact"],
            *([_tc(), "filter", "add", "dev", port, way, "matchall", "action", "drop"]
              for way in ("ingress", "egress"))]  # fmt: skip


def _mend(plan: DrillPlan) -> list[str]:
    if plan.fault is DrillFault.LINK:
        return [_ip(), "link", "set", "dev", plan.port, "up"]
    return [_tc(), "qdisc", "del", "dev", plan.port, "clsact"]


def _check_path_fault(plan: DrillPlan) -> None:
    """Someone else's clsact filters on the port would be removed with ours: refuse."""
    if plan.fault is not DrillFault.PATH:
        return
    try:
        shown = subprocess.run([_tc(), "qdisc", "show", "dev", plan.port], capture_output=True,
                               text=True, check=True, timeout=30).stdout  # fmt: skip
    except (OSError, subprocess.SubprocessError) as exc:
        raise TightropeError(f"cannot drill a dead path: tc did not answer ({exc})",
                             hint="Install iproute2's tc on the box.") from None  # fmt: skip
    if "clsact" in shown:
        raise TightropeError(
            f"{plan.port} already has a clsact qdisc (tc filters of its own); the drill "
            "will not remove them", hint="Drill with --fault link, or remove them first.")


def start_guard(port: str, after_s: float, mend: list[str] | None = None) -> str:
    # Unique per drill: two drills in the same second must not share (and stop) one guard.
    unit = f"tightrope-drill-guard-{uuid.uuid4().hex[:12]}"
    systemd_run = shutil.which("systemd-run")
    if systemd_run is None:
        raise TightropeError(
            f"systemd-run is missing: without a guard the drill could leave {port} down",
            hint="The drill needs systemd on the box.",
        )
    subprocess.run(
        [
            systemd_run,
            "--quiet",
            f"--unit={unit}",
            f"--on-active={int(after_s)}s",
            "--timer-property=AccuracySec=100ms",
            _ip(),
            "link",
            "set",
            "dev",
            port,
            "up",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return unit


def stop_guard(unit: str) -> None:
    subprocess.run(
        ["systemctl", "stop", f"{unit}.timer", f"{unit}.service"],
        capture_output=True,
        check=False,
        timeout=30,
    )


class _BondWatch:
    """Samples /proc/net/bonding/<bond> every 20 ms and records what changes."""

    def __init__(self, bond: str) -> None:
        self.path = Path(f"/proc/net/bonding/{bond}")
        self.events: list[PortEvent] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        last_active: str | None = None
        last_links: dict[str, str] = {}
        while not self._stop.is_set():
            try:
                rt = parse_proc_bond(self.path.read_text())
            except (OSError, ValueError):
                time.sleep(0.02)
                continue
            now = time.time()
            if rt.active_port != last_active:
                if last_active is not None:
                    self.events.append(
                        PortEvent(now, f"active {last_active} -> {rt.active_port or 'none'}")
                    )
                last_active = rt.active_port
            for p in rt.ports:
                if last_links.get(p.interface, p.mii_status) != p.mii_status:
                    self.events.append(PortEvent(now, f"{p.interface} link {p.mii_status}"))
                last_links[p.interface] = p.mii_status
            time.sleep(0.02)

    def __enter__(self) -> _BondWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run_drill(
    plan: DrillPlan,
    *,
    seconds: float,
    interval_ms: int = 10,
    lead_s: float = 2.0,
    tail_s: float = 6.0,
) -> DrillResult:
    total = lead_s + seconds + tail_s
    _check_path_fault(plan)
    guard = start_guard(plan.port, lead_s + seconds + GUARD_MARGIN_S, _mend(plan))
    # Into a file, not a pipe: nobody reads while the drill runs, and a full pipe (64 KiB, about
    # 11 s of 10 ms probes) would stop ping itself, a silence that looks exactly like an outage.
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed below)
    ping = subprocess.Popen(
        ["ping", "-D", "-O", "-n", "-i", f"{interval_ms / 1000:.3f}", "-W", "1",
         "-w", str(int(total + 1)), "-I", plan.bond, plan.target],
        stdout=log, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    started = time.time()
    down_at = up_at = started
    try:
        with _BondWatch(plan.bond) as watch:
            time.sleep(lead_s)
            down_at = time.time()
            for argv in _cut(plan):
                subprocess.run(argv, check=True, capture_output=True)
            time.sleep(seconds)
            up_at = time.time()
            subprocess.run(_mend(plan), check=True, capture_output=True)
            time.sleep(tail_s)
    except subprocess.CalledProcessError as exc:
        err = (exc.stderr or b"").decode(errors="replace").strip()
        raise TightropeError(f"the drill could not cut {plan.port} ({plan.fault.value}): "
                             f"{printable(err) or exc}",
                             hint="Nothing was left cut: it was undone.") from None  # fmt: skip
    finally:
        # Whatever happened above, the port must end up: the guard covers our own death.
        subprocess.run(_mend(plan), check=False, capture_output=True)
        stop_guard(guard)
        # SIGINT, as Ctrl-C: ping writes out what it still holds; SIGTERM would lose it.
        ping.send_signal(signal.SIGINT)
        try:
            ping.wait(timeout=10)
        except subprocess.TimeoutExpired:
            ping.kill()
            ping.wait()
    log.seek(0)
    out = log.read()
    log.close()
    ended = time.time()
    rt = None
    with contextlib.suppress(OSError, ValueError):
        rt = parse_proc_bond(Path(f"/proc/net/bonding/{plan.bond}").read_text())
    return DrillResult(
        plan=plan,
        interval_ms=float(interval_ms),
        down_at=down_at,
        up_at=up_at,
        started=started,
        ended=ended,
        probes=parse_ping(out),
        events=tuple(watch.events),
        miimon_ms=rt.mii_interval_ms if rt else None,
        arp_interval_ms=rt.arp_interval_ms if rt else 0,
        arp_missed_max=rt.arp_missed_max if rt else None,
    )


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise TightropeError(
            "the picture needs matplotlib", hint="pip install 'tightrope[plot]'"
        ) from None
    return plt


def check_picture(path: Path) -> None:
    """Before the drill, not after it: a picture that cannot be drawn must not cost the
    measured table (nor a second outage to measure again)."""
    _pyplot()
    from matplotlib.backend_bases import FigureCanvasBase

    formats = FigureCanvasBase.get_supported_filetypes()
    suffix = path.suffix.lstrip(".").lower()
    if suffix not in formats:
        raise UsageError(f"cannot draw a picture as {path.name!r}: matplotlib does not "
                         f"know that format", hint="name it .png or .svg")  # fmt: skip
    if not path.resolve().parent.is_dir():
        raise UsageError(f"cannot save a picture in {path.parent}: no such directory")


def save_picture(result: DrillResult, path: Path) -> Path:
    """A timeline: probe RTT (dots) and losses (red ticks), with the port events marked."""
    plt = _pyplot()
    t0 = result.started
    ok = [(p.at - t0, p.rtt_ms) for p in result.probes if p.rtt_ms is not None]
    lost = [p.at - t0 for p in result.probes if p.rtt_ms is None]
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=110)
    if ok:
        ax.scatter([t for t, _ in ok], [r for _, r in ok], s=4, label="reply RTT (ms)")
    top = max((r for _, r in ok), default=1.0)
    if lost:
        ax.scatter(lost, [top * 1.05] * len(lost), marker="|", color="red", s=60, label="lost")
    for at, label, color in (
        (result.down_at, f"{result.plan.port} down", "black"),
        (result.up_at, f"{result.plan.port} up", "green"),
    ):
        ax.axvline(at - t0, color=color, linestyle="--", linewidth=1)
        ax.text(
            at - t0, 0.97, " " + label, fontsize=8, va="top", transform=ax.get_xaxis_transform()
        )
    for ev in result.events:
        ax.axvline(ev.at - t0, color="orange", linewidth=0.8, alpha=0.7)
        ax.text(
            ev.at - t0,
            0.85,
            ev.what,
            fontsize=7,
            rotation=90,
            va="top",
            transform=ax.get_xaxis_transform(),
        )
    fo = result.outage_ms(result.failover_ms)
    fb = result.outage_ms(result.failback_ms)
    ax.set_title(
        f"{result.plan.bond}: failover {fo:.0f} ms, fail-back {fb:.0f} ms, "
        f"{result.lost}/{result.sent} probes lost (every {result.interval_ms:.0f} ms "
        f"to {result.plan.target})",
        fontsize=9,
    )
    ax.set_xlabel("seconds")
    ax.set_ylabel("RTT (ms)")
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
