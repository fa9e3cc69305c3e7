"""Is the desired state really live? Pure: config + snapshot (+ probe results) -> checks.

Used after activation (failure rolls back at once, with the reason) and by `status`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tightrope.core.snapshot import Device, Snapshot
from tightrope.core.wifi_reasons import WIFI_FATAL_REASONS, WIFI_SLOW_REASONS

if TYPE_CHECKING:
    from tightrope.core.model import BondConfig


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fatal: bool = False  # failing it will not get better by waiting
    # False: reported, not waited for (a Wi-Fi port still joining, unless every port must be
    # verified); the bond then needs another port carrying it.
    required: bool = True


@dataclass(frozen=True)
class Verdict:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    @property
    def not_waited_for(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and not c.required)

    @property
    def fatal(self) -> bool:
        return any(c.fatal and not c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok and c.required)

    def reason(self) -> str:
        return "; ".join(f"{c.name}: {c.detail}" for c in self.failures) or "all checks passed"


def verify(
    config: BondConfig,
    snap: Snapshot,
    *,
    gateway_answers: bool | None = None,
    wifi_fatal: bool = True,
    all_ports: bool = True,
) -> Verdict:
    """wifi_fatal=False when the caller counts a Wi-Fi port's attempts itself (the verify
    step, which follows NetworkManager's signals: one failed attempt is no verdict there).
    all_ports=False: a Wi-Fi port that has not joined is reported, not waited for, as long as
    another port carries the bond (joining takes a Wi-Fi port seconds of scan and handshake
    that the cable does not need; issue 18)."""
    checks: list[Check] = []
    bond = snap.device(config.name)
    if bond is None:
        return Verdict((Check("bond", False, f"{config.name} does not exist"),))
    checks.append(Check("bond", bond.state == "activated", f"{config.name} is {bond.state}"))
    seen = {ap.ssid for ap in snap.access_points}
    for port in config.ports:
        dev = snap.device(port.interface)
        check = _port_check(config.name, port.interface, port.is_wifi, dev)
        if check.fatal and port.is_wifi and dev is not None and not wifi_fatal:
            check = Check(check.name, False, check.detail)
        if not check.ok and port.is_wifi and seen and port.ssid not in seen:
            # Not fatal by itself: a hidden AP shows in the list only once the supplicant
            # probed for its SSID. core.failfast decides when the absence is certain.
            check = Check(
                check.name,
                False,
                f"{check.detail}; SSID {port.ssid!r} is not in "
                f"{port.interface}'s scan results: check its spelling and range",
                check.fatal,
            )
        if not check.ok and port.is_wifi and not all_ports:
            check = Check(check.name, False, check.detail, required=False)
        checks.append(check)
    if any(not c.required for c in checks):
        carrying = [p.interface for p in config.ports if _joined(config.name, snap, p.interface)]
        checks.append(Check("carrying port", bool(carrying),
                            f"{', '.join(carrying)} in {config.name}" if carrying
                            else f"no port has joined {config.name} yet"))  # fmt: skip
    rt = bond.bond
    if config.primary and rt is not None:
        primary_up = any(p.interface == config.primary and p.mii_status == "up" for p in rt.ports)
        if primary_up:
            checks.append(
                Check(
                    "active port",
                    rt.active_port == config.primary,
                    f"active is {rt.active_port or 'none'}, primary is {config.primary}",
                )
            )
    if config.ipv4.addresses:
        have = set(bond.ip4_addresses)
        missing = [str(a) for a in config.ipv4.addresses if str(a) not in have]
        checks.append(
            Check(
                "addresses",
                not missing,
                "missing " + ", ".join(missing) if missing else ", ".join(sorted(have)),
            )
        )
    elif config.ipv4.dhcp:
        checks.append(
            Check(
                "addresses",
                bool(bond.ip4_addresses),
                "DHCP lease " + (", ".join(bond.ip4_addresses) or "not obtained yet"),
            )
        )
    if config.ipv4.gateway:
        gw = str(config.ipv4.gateway)
        checks.append(
            Check(
                "default route",
                bond.ip4_gateway == gw,
                f"via {bond.ip4_gateway or 'nothing'} on {config.name}, want {gw}",
            )
        )
    if gateway_answers is not None:
        checks.append(
            Check(
                "gateway answers",
                gateway_answers,
                "the gateway answered a ping through the bond"
                if gateway_answers
                else "the gateway did not answer a ping through the bond",
            )
        )
    return Verdict(tuple(checks))


def _port_check(bond: str, iface: str, wifi: bool, dev: Device | None) -> Check:
    name = f"port {iface}"
    if dev is None:
        return Check(name, False, f"{iface} does not exist", fatal=True)
    if dev.controller != bond:
        reason = _wifi_reason(dev) if wifi else None
        state = dev.state
        if state == "activated":
            state = "active with another profile (its port profile could not start)"
        detail = f"{iface} is {state}, not in {bond}" + (f": {reason}" if reason else "")
        return Check(name, False, detail, fatal=bool(wifi and _fatal(dev)))
    if dev.state != "activated":
        reason = _wifi_reason(dev) if wifi else None
        if dev.state == "ip-config":
            reason = f"waiting for NetworkManager to attach it to {bond}"
        detail = f"{iface} is {dev.state}" + (f": {reason}" if reason else "")
        return Check(name, False, detail, fatal=bool(wifi and _fatal(dev)))
    extra = f", associated to {dev.ssid}" if wifi and dev.ssid else ""
    return Check(name, True, f"{iface} is in {bond}{extra}")


def _joined(bond: str, snap: Snapshot, iface: str) -> bool:
    dev = snap.device(iface)
    return dev is not None and dev.controller == bond and dev.state == "activated"


def _fatal(dev: Device) -> bool:
    return dev.state in ("failed", "disconnected") and dev.state_reason in WIFI_FATAL_REASONS


def _wifi_reason(dev: Device) -> str | None:
    r = dev.state_reason
    if r is None:
        return None
    return WIFI_FATAL_REASONS.get(r) or WIFI_SLOW_REASONS.get(r)
