"""The failover drill's pure half: may we drill, and what did the probes say.

`ping -D -O` prints one line per probe, timestamped by the kernel clock:
    [1764064001.123456] 64 bytes from 198.18.1.1: icmp_seq=12 ttl=64 time=0.482 ms
    [1764064001.133456] no answer yet for icmp_seq=13
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from tightrope.core.snapshot import Snapshot

_REPLY = re.compile(r"^\[(\d+\.\d+)\].*icmp_seq=(\d+).*time=([\d.]+) ms")
_MISS = re.compile(r"^\[(\d+\.\d+)\] no answer yet for icmp_seq=(\d+)")


@dataclass(frozen=True)
class Probe:
    seq: int
    at: float  # when the reply came (or when ping gave up waiting)
    rtt_ms: float | None  # None: no answer


@dataclass(frozen=True)
class PortEvent:
    at: float
    what: str  # e.g. "active eth0 -> wlan0", "eth0 down", "eth0 up"


class DrillFault(str, Enum):
    LINK = "link"  # the port taken down: what a pulled cable does
    PATH = "path"  # its traffic dropped both ways, the link kept up: a dead path


# A bond watching the link does not notice a dead path: for the drill's length the box is
# cut off wherever the active port led. Kept short, so the admin's SSH session survives it.
MAX_UNWATCHED_PATH_S = 30.0


@dataclass(frozen=True)
class DrillPlan:
    bond: str
    port: str  # the port taken down (the active one)
    backups: tuple[str, ...]
    target: str
    fault: DrillFault = DrillFault.LINK


@dataclass(frozen=True)
class Detection:
    """Who noticed the fault, when, and the floor that monitor could not go below."""

    by: str  # "MII" or "ARP"
    after_ms: float | None  # None: never (the port stayed up as far as the bond knew)
    floor_ms: int | None
    floor: str  # how the floor comes about, in words


@dataclass(frozen=True)
class DrillResult:
    plan: DrillPlan
    interval_ms: float
    down_at: float
    up_at: float
    started: float
    ended: float
    probes: tuple[Probe, ...]
    events: tuple[PortEvent, ...] = field(default=())
    miimon_ms: int | None = None
    arp_interval_ms: int = 0
    arp_missed_max: int | None = None

    def detection(self) -> Detection:
        port = self.plan.port
        marks = (f"{port} link down", f"active {port} -> ")
        first = next((e.at for e in self.events if e.at >= self.down_at
                      and e.what.startswith(marks)), None)  # fmt: skip
        after = None if first is None else (first - self.down_at) * 1000
        if self.arp_interval_ms:
            missed = self.arp_missed_max or 2
            why = f"ARP interval {self.arp_interval_ms} ms x {missed} missed"
            return Detection("ARP", after, self.arp_interval_ms * missed, why)
        floor = ("MII interval; a real PHY reports a pulled cable later (a Raspberry Pi's "
                 "1000BASE-T: ~750 ms or more)")  # fmt: skip
        if self.plan.fault is DrillFault.PATH:
            floor = "none: MII watches the link, which stayed up"
        return Detection("MII", after, self.miimon_ms, floor)

    @property
    def sent(self) -> int:
        return len({p.seq for p in self.probes})

    @property
    def lost(self) -> int:
        answered = {p.seq for p in self.probes if p.rtt_ms is not None}
        return len({p.seq for p in self.probes} - answered)

    def _gap_ms(self, start: float, end: float) -> float:
        # Silence counts only while probes were going out: past the last one seen (answered or
        # not) there is nothing to say, and counting it would invent an outage.
        if self.probes:
            end = min(end, max(self.probes, key=lambda p: p.seq).at)
        times = sorted(p.at for p in self.probes if p.rtt_ms is not None and start <= p.at <= end)
        edges = [start, *times, end]
        return max((b - a for a, b in itertools.pairwise(edges)), default=0.0) * 1000

    @property
    def failover_ms(self) -> float:
        """Longest silence from the port going down until halfway to its return."""
        return self._gap_ms(self.down_at, (self.down_at + self.up_at) / 2)

    @property
    def failback_ms(self) -> float:
        return self._gap_ms(self.up_at, self.ended)

    def outage_ms(self, gap_ms: float) -> float:
        # A gap of one interval is the normal pace of probes, not an outage.
        return max(0.0, gap_ms - self.interval_ms)


def parse_ping(text: str) -> tuple[Probe, ...]:
    probes: dict[int, Probe] = {}
    for line in text.splitlines():
        m = _REPLY.match(line)
        if m:
            seq = int(m[2])
            probes[seq] = Probe(seq, float(m[1]), float(m[3]))
            continue
        m = _MISS.match(line)
        if m and int(m[2]) not in probes:
            probes[int(m[2])] = Probe(int(m[2]), float(m[1]), None)
    return tuple(sorted(probes.values(), key=lambda p: p.seq))


class DrillRefused(Exception):
    pass


def drill_plan(
    snap: Snapshot,
    bond: str | None,
    target: str | None,
    fault: DrillFault = DrillFault.LINK,
    seconds: float = 10.0,
) -> DrillPlan:
    """The drill must never be what cuts the admin off: refuse unless a backup is ready."""
    bonds = [d for d in snap.devices if d.type == "bond" and (bond is None or d.interface == bond)]
    if not bonds:
        raise DrillRefused("no bond to drill" + (f" named {bond}" if bond else ""))
    dev = bonds[0]
    rt = dev.bond
    if rt is None or rt.mii_status != "up":
        raise DrillRefused(f"{dev.interface} is not healthy (MII {rt.mii_status if rt else '?'})")
    if not rt.active_port:
        raise DrillRefused(f"{dev.interface} has no active port")
    backups = []
    for p in rt.ports:
        if p.interface == rt.active_port:
            continue
        port_dev = snap.device(p.interface)
        if p.mii_status != "up":
            continue
        if port_dev is not None and port_dev.type == "wifi" and port_dev.state != "activated":
            continue
        backups.append(p.interface)
    if not backups:
        raise DrillRefused(
            f"no backup port of {dev.interface} is up (Wi-Fi associated, link "
            f"present): taking {rt.active_port} down would cut the box off"
        )
    if fault is DrillFault.PATH and not rt.arp_interval_ms and seconds > MAX_UNWATCHED_PATH_S:
        raise DrillRefused(
            f"{dev.interface} watches the link (MII), so it will not notice a dead path: the "
            f"box would be cut off for {seconds:g} s; drill a dead path for at most "
            f"{MAX_UNWATCHED_PATH_S:g} s (--seconds), or monitor with ARP"
        )
    gw = target or dev.ip4_gateway
    if not gw:
        raise DrillRefused(f"{dev.interface} has no gateway to probe: give --target")
    return DrillPlan(dev.interface, rt.active_port, tuple(backups), gw, fault)


def sparkline(result: DrillResult, width: int = 60) -> str:
    """Compact terminal picture: one character per time slice, '_' lost, blocks by RTT."""
    if not result.probes:
        return ""
    start, end = result.started, result.ended
    span = max(end - start, 1e-6)
    slots: list[list[float | None]] = [[] for _ in range(width)]
    for p in result.probes:
        i = min(width - 1, max(0, int((p.at - start) / span * width)))
        slots[i].append(p.rtt_ms)
    blocks = " ▁▂▃▄▅▆▇█"
    rtts = [r for p in result.probes if (r := p.rtt_ms) is not None]
    top = max(rtts, default=1.0) or 1.0
    out = []
    for slot in slots:
        answered = [r for r in slot if r is not None]
        if not slot:
            out.append(" ")
        elif not answered:
            out.append("_")
        else:
            out.append(blocks[max(1, int(max(answered) / top * 8))])
    down = int((result.down_at - start) / span * width)
    up = int((result.up_at - start) / span * width)
    marks = [" "] * width
    if 0 <= down < width:
        marks[down] = "v"
    if 0 <= up < width:
        marks[up] = "^"
    return "".join(out) + "\n" + "".join(marks)


def result_to_dict(r: DrillResult) -> dict[str, Any]:
    return {
        "bond": r.plan.bond,
        "port": r.plan.port,
        "backups": list(r.plan.backups),
        "target": r.plan.target,
        "interval_ms": r.interval_ms,
        "fault": r.plan.fault.value,
        "miimon_ms": r.miimon_ms,
        "arp_interval_ms": r.arp_interval_ms,
        "arp_missed_max": r.arp_missed_max,
        "detected_by": (det := r.detection()).by,
        "detected_after_ms": None if det.after_ms is None else round(det.after_ms, 1),
        "detection_floor_ms": det.floor_ms,
        "failover_ms": round(r.outage_ms(r.failover_ms), 1),
        "failback_ms": round(r.outage_ms(r.failback_ms), 1),
        "sent": r.sent,
        "lost": r.lost,
        "started": r.started,
        "down_at": r.down_at,
        "up_at": r.up_at,
        "ended": r.ended,
        "events": [[e.at, e.what] for e in r.events],
        "probes": [[p.seq, p.at, p.rtt_ms] for p in r.probes],
    }


def result_from_dict(d: Mapping[str, Any]) -> DrillResult:
    plan = DrillPlan(str(d["bond"]), str(d["port"]), tuple(d["backups"]), str(d["target"]),
                     DrillFault(d.get("fault", "link")))  # fmt: skip
    miimon = d.get("miimon_ms")
    missed = d.get("arp_missed_max")
    return DrillResult(
        plan=plan,
        interval_ms=float(d["interval_ms"]),
        down_at=float(d["down_at"]),
        up_at=float(d["up_at"]),
        started=float(d["started"]),
        ended=float(d["ended"]),
        probes=tuple(
            Probe(int(s), float(a), None if r is None else float(r)) for s, a, r in d["probes"]
        ),
        events=tuple(PortEvent(float(a), str(w)) for a, w in d["events"]),
        miimon_ms=int(miimon) if miimon is not None else None,
        arp_interval_ms=int(d.get("arp_interval_ms", 0)),
        arp_missed_max=int(missed) if missed is not None else None,
    )
