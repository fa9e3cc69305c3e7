"""`tightrope status` as data: bonds, their ports, and what claims each device. Pure."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from tightrope.core.discovery import claim_by, netplan_stanzas, origin_of, storage_world
from tightrope.core.snapshot import BondPortRuntime, Device, Snapshot
from tightrope.core.wifi_reasons import WIFI_FATAL_REASONS, WIFI_SLOW_REASONS


@dataclass(frozen=True)
class PortStatus:
    interface: str
    type: str
    state: str
    link: str  # up, down, unknown
    speed: str | None
    ssid: str | None
    signal: int | None
    permanent_mac: str | None
    mac: str
    link_failures: int | None
    active: bool


@dataclass(frozen=True)
class BondStatus:
    name: str
    state: str
    profile: str | None
    mode: str | None
    mii_status: str | None
    miimon_ms: int | None
    active_port: str | None
    primary: str | None
    fail_over_mac: str | None
    ports: tuple[PortStatus, ...]
    addresses: tuple[str, ...]
    gateway: str | None
    dns: tuple[str, ...]
    # Where the running bond's profile comes from: the netplan YAML that defines it, or
    # NetworkManager's keyfile; "" when it lives in memory only.
    source: str | None = None
    # The ARP monitor, when the bond runs it instead of MII (arp_interval_ms 0: MII).
    arp_interval_ms: int = 0
    arp_targets: tuple[str, ...] = ()
    arp_missed_max: int | None = None


@dataclass(frozen=True)
class DeviceStatus:
    interface: str
    type: str
    state: str
    managed: bool
    addresses: tuple[str, ...]
    claimed_by: tuple[str, ...]  # "name (origin, storage)" of each profile that claims it
    active_profile: str | None
    # Why a device is not activated, in the admin's words where tightrope knows them (a
    # Wi-Fi port committed without waiting for it: a refused PSK shows here); None if active.
    why: str | None = None


@dataclass(frozen=True)
class StatusReport:
    hostname: str
    nm_version: str
    storage_world: str
    bonds: tuple[BondStatus, ...]
    devices: tuple[DeviceStatus, ...]
    checkpoints: int
    pending: PendingTxn | None = None
    last: LastTxn | None = None  # the newest ended transaction, however it ended
    stuck: StuckLock | None = None  # the change lock names a transaction nobody can read

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PendingTxn:
    id: str
    kind: str
    phase: str
    remaining_s: int | None  # until NetworkManager rolls back, when awaiting confirmation
    reconnect_at: str | None


@dataclass(frozen=True)
class LastTxn:
    """How the newest change ended: after a power cut, a reboot or a killed runner this is
    where the admin learns what happened (the reason says it in words)."""

    id: str
    kind: str
    outcome: str
    reason: str
    ended: float | None  # the box's wall clock when it ended (as recorded; it may have jumped)
    # Only for a change cut short (a reboot, a killed runner): the last time its runner wrote
    # anything, so the cut happened between this and `ended` (when tightrope found it over).
    last_seen: float | None = None


@dataclass(frozen=True)
class StuckLock:
    """The change lock names a transaction whose state nobody can read. It is kept (its runner
    may still hold NetworkManager), so no change can start until a person frees it."""

    id: str  # what the lock names, as written there (it may not even be a transaction id)
    lock: str  # the lock file
    problem: str  # why the transaction cannot be read
    recovery: tuple[str, ...]  # what to do, in order, with the exact commands


_SHOWN_TYPES = ("ethernet", "wifi", "bond")


def status_report(snap: Snapshot, pending: PendingTxn | None = None,
                  last: LastTxn | None = None, stuck: StuckLock | None = None,
                  ) -> StatusReport:  # fmt: skip
    bonds = tuple(_bond(snap, d) for d in snap.devices if d.type == "bond")
    devices = tuple(_device(snap, d) for d in snap.devices if d.type in _SHOWN_TYPES)
    return StatusReport(
        hostname=snap.hostname,
        nm_version=snap.nm_version,
        storage_world=storage_world(snap),
        bonds=bonds,
        devices=devices,
        checkpoints=len(snap.checkpoints),
        pending=pending,
        last=last,
        stuck=stuck,
    )


def _profile_name(snap: Snapshot, uuid: str | None) -> str | None:
    if uuid is None:
        return None
    p = snap.profile(uuid)
    return p.id if p else uuid


def _bond(snap: Snapshot, dev: Device) -> BondStatus:
    rt = dev.bond
    kernel_ports = {p.interface: p for p in rt.ports} if rt else {}
    names = list(kernel_ports) or [
        d.interface for d in snap.devices if d.controller == dev.interface
    ]
    ports = tuple(
        _port(snap.device(n), kernel_ports.get(n), rt.active_port if rt else None, n) for n in names
    )
    return BondStatus(
        name=dev.interface,
        state=dev.state,
        profile=_profile_name(snap, dev.active_profile),
        mode=rt.mode if rt else None,
        mii_status=rt.mii_status if rt else None,
        miimon_ms=rt.mii_interval_ms if rt else None,
        active_port=rt.active_port if rt else None,
        primary=rt.primary if rt else None,
        fail_over_mac=rt.fail_over_mac if rt else None,
        ports=ports,
        addresses=dev.ip4_addresses + dev.ip6_addresses,
        gateway=dev.ip4_gateway,
        dns=dev.ip4_dns,
        source=_source(snap, dev),
        arp_interval_ms=rt.arp_interval_ms if rt else 0,
        arp_targets=rt.arp_targets if rt else (),
        arp_missed_max=rt.arp_missed_max if rt else None,
    )


def _source(snap: Snapshot, dev: Device) -> str | None:
    p = snap.profile(dev.active_profile) if dev.active_profile else None
    if p is None:
        return None
    if "/netplan-" in p.filename:
        stanzas = netplan_stanzas(snap, [dev.interface], include_own=True)
        return next((s.path for s in stanzas if s.section == "bonds"), p.filename)
    return p.filename


def _port(
    dev: Device | None, kernel: BondPortRuntime | None, active: str | None, name: str
) -> PortStatus:
    link = "unknown"
    if kernel is not None:
        link = kernel.mii_status
    elif dev is not None and dev.carrier is not None:
        link = "up" if dev.carrier else "down"
    speed = (
        kernel.speed if kernel else (f"{dev.speed_mbit} Mbps" if dev and dev.speed_mbit else None)
    )
    return PortStatus(
        interface=name,
        type=dev.type if dev else "?",
        state=dev.state if dev else "missing",
        link=link,
        speed=speed,
        ssid=dev.ssid if dev else None,
        signal=dev.signal if dev else None,
        permanent_mac=(kernel.permanent_mac if kernel else None)
        or (dev.permanent_mac if dev else None),
        mac=dev.mac if dev else "",
        link_failures=kernel.link_failure_count if kernel else None,
        active=name == active,
    )


def _device(snap: Snapshot, dev: Device) -> DeviceStatus:
    claims = [
        f"{p.id} ({origin_of(p)}, {p.storage})"
        for p in snap.profiles
        if claim_by(p, dev.interface, dev.type, snap) is not None
    ]
    return DeviceStatus(
        interface=dev.interface,
        type=dev.type,
        state=dev.state,
        managed=dev.managed,
        addresses=dev.ip4_addresses + dev.ip6_addresses,
        claimed_by=tuple(claims),
        active_profile=_profile_name(snap, dev.active_profile),
        why=_why(dev),
    )


# NetworkManager's reasons that say nothing about a device that is not active.
_NO_NEWS = frozenset({"", "none", "unknown", "now-managed", "now-unmanaged", "removed",
                      "user-requested", "connection-removed", "connection-assumed",
                      "supplicant-available", "new-activation", "carrier", "sleeping"})  # fmt: skip


def _why(dev: Device) -> str | None:
    reason = dev.state_reason or ""
    if dev.state == "activated" or reason in _NO_NEWS:
        return None
    if dev.type == "wifi":
        return WIFI_FATAL_REASONS.get(reason) or WIFI_SLOW_REASONS.get(reason) or reason
    return reason


def report_from_dict(d: dict[str, Any]) -> StatusReport:
    """A report sent by the box (StatusAnswer) back into its types; a malformed one raises
    TypeError/KeyError/ValueError for the caller to turn into an error."""

    def port(p: dict[str, Any]) -> PortStatus:
        return PortStatus(**p)

    def bond(b: dict[str, Any]) -> BondStatus:
        return BondStatus(**{**b, "ports": tuple(port(p) for p in b["ports"]),
                             "addresses": tuple(b["addresses"]), "dns": tuple(b["dns"]),
                             "arp_targets": tuple(b.get("arp_targets", ()))})

    def device(x: dict[str, Any]) -> DeviceStatus:
        return DeviceStatus(**{**x, "addresses": tuple(x["addresses"]),
                               "claimed_by": tuple(x["claimed_by"])})

    pend, last, stuck = d.get("pending"), d.get("last"), d.get("stuck")
    return StatusReport(
        hostname=str(d["hostname"]), nm_version=str(d["nm_version"]),
        storage_world=str(d["storage_world"]), bonds=tuple(bond(b) for b in d["bonds"]),
        devices=tuple(device(x) for x in d["devices"]), checkpoints=int(d["checkpoints"]),
        pending=PendingTxn(**pend) if isinstance(pend, dict) else None,
        last=LastTxn(**last) if isinstance(last, dict) else None,
        stuck=StuckLock(**{**stuck, "recovery": tuple(stuck["recovery"])})
        if isinstance(stuck, dict) else None,
    )  # fmt: skip
