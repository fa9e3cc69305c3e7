"""The bond's ARP monitor: what the config may ask for (core.config calls parse_arp), and
what NetworkManager and netplan are told. Pure (issue 15).

MII monitoring watches the link, so it misses a path that died with the link still up (a
switch that lost its uplink, a port in the wrong VLAN), and it waits for the PHY to report a
pulled cable (on a Raspberry Pi's 1000BASE-T, ~750 ms or more). The ARP monitor asks targets
on the LAN every `arp-interval` and fails a port after `arp-missed-max` intervals without an
answer, whatever the link says. The kernel runs one monitor or the other, never both, and
NetworkManager refuses the delays that only MII monitoring has (updelay, downdelay,
peer_notif_delay: nm-setting-bond.c's verify()).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address, IPv4Interface
from typing import Any

from tightrope.core.collect import Collector

ARP_KEYS = ("arp-interval", "arp-ip-targets", "arp-validate", "arp-all-targets", "arp-missed-max")
# Only MII monitoring has them; NetworkManager refuses a profile that sets one with ARP.
MII_ONLY_KEYS = ("mii-monitor-interval", "up-delay", "down-delay", "peer-notify-delay")
# The kernel's arp_ip_target holds at most 16 addresses (BOND_MAX_ARP_TARGETS).
MAX_TARGETS = 16
# The kernel takes any interval; below 10 ms the probes are a flood on a small LAN, above
# 10 s a dead path goes unnoticed for longer than an SSH session waits.
INTERVAL_MS = (10, 10_000)
# Modes whose transmit logic the ARP monitor cannot follow (the kernel and NetworkManager
# both refuse it there).
NO_ARP_MODES = frozenset({"802.3ad", "balance-tlb", "balance-alb"})


# The default when no monitor is named and a static gateway can be asked: every 100 ms, down
# after 2 missed (the kernel's default). Measured (docs/benchmarks.md, "Which monitor by
# default"; TCG lab, 10 faults each): a dead path recovered 10 of 10 (median 271 ms) where MII
# recovered none; a pulled cable 302 ms against MII's 84 ms in the lab, where QEMU reports the
# link at once; a Pi's PHY adds ~750 ms or more to MII and nothing to ARP. 50 ms was ~100 ms
# faster, but an idle Wi-Fi backup must then hear a frame every 150 ms to stay up, less than
# a real access point's DTIM period.
DEFAULT_INTERVAL_MS = 100
# The modes the default applies to: active-backup is the one measured (a Wi-Fi backup).
DEFAULT_ARP_MODES = frozenset({"active-backup"})


class ArpValidate(str, Enum):
    """Which ARP traffic counts as a sign of life, as netplan names it (the kernel has three
    more filter_* modes that netplan cannot express)."""

    NONE = "none"
    ACTIVE = "active"
    BACKUP = "backup"
    ALL = "all"


class ArpAllTargets(str, Enum):
    ANY = "any"  # a port is up while any target answers
    ALL = "all"  # ... only while every target answers


@dataclass(frozen=True)
class ArpMonitor:
    interval_ms: int
    targets: tuple[IPv4Address, ...]
    validate: ArpValidate
    all_targets: ArpAllTargets = ArpAllTargets.ANY
    missed_max: int = 2  # the kernel's default

    @property
    def floor_ms(self) -> int:
        """The longest a dead path can go unnoticed: missed_max intervals without an answer."""
        return self.interval_ms * self.missed_max

    def nm_options(self) -> dict[str, str]:
        """NetworkManager's bond.options (miimon 0: the kernel runs one monitor only). The
        kernel's defaults are left out: NetworkManager before 1.42 (Ubuntu 22.04's 1.36)
        refuses a profile that names arp_missed_max at all."""
        out = {
            "miimon": "0",
            "arp_interval": str(self.interval_ms),
            "arp_ip_target": ",".join(str(t) for t in self.targets),
            "arp_validate": self.validate.value,
        }
        if self.all_targets is not ArpAllTargets.ANY:
            out["arp_all_targets"] = self.all_targets.value
        if self.missed_max != 2:
            out["arp_missed_max"] = str(self.missed_max)
        return out

    def netplan_parameters(self) -> dict[str, Any]:
        """netplan's bond parameters; arp-missed-max has no netplan key (it travels as a
        NetworkManager passthrough key, core.netplan_yaml)."""
        out: dict[str, Any] = {
            "arp-interval": self.interval_ms,
            "arp-ip-targets": [str(t) for t in self.targets],
            "arp-validate": self.validate.value,
        }
        if self.all_targets is not ArpAllTargets.ANY:
            out["arp-all-targets"] = self.all_targets.value
        return out


def with_default_monitor(
    params: dict[str, Any], mode: str | None, gateway: IPv4Address | None
) -> dict[str, Any]:
    """The parameters with the monitor tightrope chooses when none is named: ARP with the
    gateway as target where there is a static one to ask, else MII (core.config's default).
    Any MII or ARP key names the monitor: up-delay alone keeps MII, as it always did."""
    named = any(k in params for k in (*ARP_KEYS, *MII_ONLY_KEYS))
    if named or gateway is None or (mode or "active-backup") not in DEFAULT_ARP_MODES:
        return params
    return {**params, "arp-interval": DEFAULT_INTERVAL_MS}


def parse_arp(
    c: Collector,
    params: dict[str, Any],
    *,
    mode: str | None,
    addresses: tuple[IPv4Interface, ...],
    gateway: IPv4Address | None,
    default_validate: ArpValidate,
) -> ArpMonitor | None:
    """The ARP monitor `parameters:` asks for, or None for MII monitoring (no arp-interval).
    Problems go to the collector, each naming its key and the fix."""
    asked = [k for k in ARP_KEYS if k in params]
    if "arp-interval" not in params:
        for key in asked:
            c.add(f"parameters.{key}", "is set without arp-interval",
                  "add arp-interval (e.g. 200) to monitor with ARP, or leave it out")  # fmt: skip
        return None
    ok = True
    for key in MII_ONLY_KEYS:
        if key in params:
            ok = False
            c.add(f"parameters.{key}", "works only with MII monitoring, not with arp-interval",
                  f"leave {key} out, or arp-interval and the other arp-* keys")  # fmt: skip
    if mode in NO_ARP_MODES:
        ok = False
        c.add("parameters.arp-interval", f"cannot monitor a bond in mode {mode}",
              "use mode active-backup, or MII monitoring (mii-monitor-interval)")  # fmt: skip
    interval = c.integer(params["arp-interval"], "parameters.arp-interval", *INTERVAL_MS,
                         " of milliseconds")  # fmt: skip
    targets = _targets(c, params, addresses, gateway)
    validate = _choice(c, params, "arp-validate", ArpValidate, default_validate)
    all_targets = _choice(c, params, "arp-all-targets", ArpAllTargets, ArpAllTargets.ANY)
    missed = c.integer(params.get("arp-missed-max", 2), "parameters.arp-missed-max", 1, 255,
                       " of intervals")  # fmt: skip
    if not ok or None in (interval, targets, validate, all_targets, missed):
        return None
    assert interval is not None and targets is not None and missed is not None
    assert validate is not None and all_targets is not None
    return ArpMonitor(interval, targets, validate, all_targets, missed)


def _targets(
    c: Collector,
    params: dict[str, Any],
    addresses: tuple[IPv4Interface, ...],
    gateway: IPv4Address | None,
) -> tuple[IPv4Address, ...] | None:
    where = "parameters.arp-ip-targets"
    raw = params.get("arp-ip-targets")
    if raw is None:
        if gateway is None:
            c.add(
                where,
                "is needed: there is no static gateway to ask",
                "list one or more addresses on the LAN that always answer, e.g. the router's",
            )
            return None
        return (gateway,)
    if not isinstance(raw, list) or not raw:
        c.add(where, "must be a list of IPv4 addresses",
              "write it as [198.18.1.1] (the gateway is the usual target)")  # fmt: skip
        return None
    if len(raw) > MAX_TARGETS:
        c.add(where, f"has {len(raw)} addresses; the kernel takes at most {MAX_TARGETS}",
              f"keep {MAX_TARGETS} or fewer")  # fmt: skip
        return None
    out: list[IPv4Address] = []
    own = {a.ip for a in addresses}
    for i, value in enumerate(raw):
        at = f"{where}[{i}]"
        try:
            ip = IPv4Address(str(value))
        except ValueError:
            c.add(at, f"{value!r} is not an IPv4 address", "write it as 198.18.1.1")
            continue
        problem = _target_problem(ip, own, addresses)
        if problem:
            c.add(at, *problem)
        elif ip in out:
            c.add(at, f"{ip} is listed twice", "list each target once")
        else:
            out.append(ip)
    return tuple(out) if len(out) == len(raw) else None


def _target_problem(
    ip: IPv4Address, own: set[IPv4Address], addresses: tuple[IPv4Interface, ...]
) -> tuple[str, str] | None:
    if ip.is_unspecified or ip.is_multicast or ip.is_loopback or ip == IPv4Address(
        "255.255.255.255"
    ):
        return f"{ip} cannot answer ARP", "use a host on the LAN, e.g. the gateway"
    if ip in own:
        return f"{ip} is the bond's own address", "use another host on the LAN, e.g. the gateway"
    # The kernel asks for a target with ARP on the bond: a host off the LAN never hears it.
    if addresses and not any(ip in a.network for a in addresses):
        nets = ", ".join(str(a.network) for a in addresses)
        return f"{ip} is not on the bond's LAN ({nets}): ARP cannot reach it", (
            "use a host on that LAN, e.g. the gateway"
        )
    if addresses and any(ip == a.network.broadcast_address for a in addresses):
        return f"{ip} is the LAN's broadcast address", "use a host on the LAN, e.g. the gateway"
    return None


def _choice(c: Collector, params: dict[str, Any], key: str, enum: Any, default: Any) -> Any:
    value = params.get(key, default.value)
    try:
        return enum(value)
    except ValueError:
        c.add(f"parameters.{key}", f"{value!r} is not one of {', '.join(e.value for e in enum)}",
              f"use one of: {', '.join(e.value for e in enum)}")  # fmt: skip
        return None
