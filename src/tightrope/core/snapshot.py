"""A typed, read-only picture of one box's network as NetworkManager (and the kernel) see it.

The NetworkManager adapter (tightrope.nm) fills it over D-Bus; everything in tightrope.core
reasons about it as plain data. It round-trips through JSON so snapshots captured on a lab
box become unit-test fixtures, and so the box can send it to the laptop.

Profile settings stay NetworkManager's own nested dict (setting -> key -> value), normalised
to JSON types by the adapter: byte arrays become strings (SSID as text, MAC addresses as
"AA:BB:.."), IPv4 DNS servers as dotted strings, and secrets are absent unless asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tightrope.core.redact import redact_netplan, redact_settings, safe_repr

SNAPSHOT_FORMAT = 1

# NetworkManager's connection.type values for the kinds tightrope cares about.
ETHERNET = "802-3-ethernet"
WIFI = "802-11-wireless"
BOND = "bond"

Settings = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class BondRuntime:
    """What the kernel's bonding driver says (/proc/net/bonding/<bond>)."""

    mode: str
    mii_status: str
    mii_interval_ms: int
    active_port: str | None
    primary: str | None
    ports: tuple[BondPortRuntime, ...] = ()
    updelay_ms: int = 0
    downdelay_ms: int = 0
    fail_over_mac: str | None = None
    arp_interval_ms: int = 0  # 0: no ARP monitor (the kernel runs MII then)
    arp_targets: tuple[str, ...] = ()
    arp_missed_max: int | None = None  # printed by kernels from 5.18 only


@dataclass(frozen=True)
class BondPortRuntime:
    interface: str
    mii_status: str
    speed: str | None
    link_failure_count: int
    permanent_mac: str | None


@dataclass(frozen=True)
class Device:
    interface: str
    type: str  # NetworkManager's device type name: ethernet, wifi, bond, loopback, ...
    state: str  # unmanaged, unavailable, disconnected, activated, ...
    managed: bool
    mac: str = ""
    permanent_mac: str | None = None
    carrier: bool | None = None
    driver: str = ""
    speed_mbit: int | None = None
    active_profile: str | None = None  # uuid of the profile active on it
    controller: str | None = None  # interface name of the bond it is a port of
    ip4_addresses: tuple[str, ...] = ()  # "198.18.1.50/24"
    ip4_gateway: str | None = None
    ip4_dns: tuple[str, ...] = ()
    ip6_addresses: tuple[str, ...] = ()
    ssid: str | None = None  # Wi-Fi: the SSID of the access point it is associated with
    signal: int | None = None  # Wi-Fi: percent
    state_reason: str | None = None  # why it is in this state (NM_DEVICE_STATE_REASON_*)
    bond: BondRuntime | None = None  # bonds only


@dataclass(frozen=True)
class Profile:
    uuid: str
    id: str
    type: str  # connection.type
    interface: str | None  # connection.interface-name
    filename: str  # where NetworkManager keeps it; "" when only in memory
    flags: int  # NM_SETTINGS_CONNECTION_FLAGS: 1 unsaved, 2 nm-generated, 4 volatile, 8 external
    settings: Settings = field(default_factory=dict)

    def get(self, setting: str, key: str, default: Any = None) -> Any:
        return self.settings.get(setting, {}).get(key, default)

    def __repr__(self) -> str:
        # Read with secrets (for backups) it holds the PSK; no repr, log or error may.
        return safe_repr(self, settings=redact_settings(self.settings))

    @property
    def storage(self) -> str:
        """Where the profile lives: etc, run, netplan (an /etc/netplan YAML), memory."""
        return storage_of(self.filename, self.flags)

    @property
    def mac_match(self) -> str | None:
        for setting in (ETHERNET, WIFI):
            mac = self.get(setting, "mac-address")
            if mac:
                return str(mac).upper()
        return None

    @property
    def controller(self) -> str | None:
        value = self.get("connection", "master") or self.get("connection", "controller")
        return str(value) if value else None


def storage_of(filename: str, flags: int = 0) -> str:
    """etc (survives reboot), run (NetworkManager's in-memory store, gone at reboot: netplan's
    generated profiles and profiles added in memory both live there), netplan (an
    /etc/netplan YAML, Ubuntu's patched NetworkManager), memory (no file at all)."""
    if not filename:
        return "memory"
    if filename.startswith(("/etc/netplan/", "/lib/netplan/")):
        return "netplan"
    if filename.startswith("/run/"):
        return "run"
    return "etc"


@dataclass(frozen=True)
class ActiveConnection:
    uuid: str
    id: str
    type: str
    state: str  # activating, activated, deactivating, ...
    devices: tuple[str, ...]
    default4: bool = False


@dataclass(frozen=True)
class AccessPoint:
    ssid: str
    bssid: str
    signal: int
    frequency_mhz: int
    secured: bool
    seen_by: str  # the Wi-Fi interface that saw it


@dataclass(frozen=True)
class Checkpoint:
    path: str
    devices: tuple[str, ...]
    created_ms: int
    rollback_timeout_s: int


@dataclass(frozen=True)
class Session:
    """Where the command runs from: the SSH connection that a change may cut."""

    ssh_client: str | None = None  # the admin's address, from SSH_CONNECTION
    ssh_server: str | None = None  # the box's address that session uses
    ssh_port: int | None = None


@dataclass(frozen=True)
class Snapshot:
    nm_version: str
    hostname: str
    devices: tuple[Device, ...]
    profiles: tuple[Profile, ...]
    active: tuple[ActiveConnection, ...] = ()
    access_points: tuple[AccessPoint, ...] = ()
    checkpoints: tuple[Checkpoint, ...] = ()
    netplan_files: Mapping[str, str] = field(default_factory=dict)  # path -> text
    nm_uses_netplan: bool = False  # NetworkManager built with netplan as its settings store
    networkd_links: tuple[str, ...] = ()  # interfaces systemd-networkd manages
    wifi_powersave: Mapping[str, bool] = field(default_factory=dict)  # iface -> on?
    session: Session = field(default_factory=Session)
    format: int = SNAPSHOT_FORMAT

    def device(self, interface: str) -> Device | None:
        return next((d for d in self.devices if d.interface == interface), None)

    def profile(self, key: str) -> Profile | None:
        """By uuid or by name (id)."""
        return next((p for p in self.profiles if key in (p.uuid, p.id)), None)

    def to_dict(self, *, with_secrets: bool = False) -> dict[str, Any]:
        """JSON-ready; secrets left out unless asked for (a root-only capture)."""
        data = asdict(self)
        data["netplan_files"] = dict(self.netplan_files)
        data["wifi_powersave"] = dict(self.wifi_powersave)
        if not with_secrets:
            for profile in data["profiles"]:
                profile["settings"] = redact_settings(profile["settings"])
            data["netplan_files"] = {p: redact_netplan(t) for p, t in self.netplan_files.items()}
        return data

    def __repr__(self) -> str:
        # Profiles redact themselves; root reads netplan files with their passwords.
        shown = {p: redact_netplan(t) for p, t in self.netplan_files.items()}
        return safe_repr(self, netplan_files=shown)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        """Inverse of to_dict. Raises ValueError on a malformed snapshot."""
        try:
            return _snapshot_from_dict(data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed snapshot: {exc!r}") from exc


def _bond_from(d: Mapping[str, Any] | None) -> BondRuntime | None:
    if d is None:
        return None
    ports = tuple(BondPortRuntime(**p) for p in d.get("ports", ()))
    return BondRuntime(**{**d, "ports": ports, "arp_targets": tuple(d.get("arp_targets", ()))})


def _device_from(d: Mapping[str, Any]) -> Device:
    tuples = ("ip4_addresses", "ip4_dns", "ip6_addresses")
    fixed = {k: tuple(v) for k, v in d.items() if k in tuples}
    return Device(**{**d, **fixed, "bond": _bond_from(d.get("bond"))})


def _snapshot_from_dict(data: Mapping[str, Any]) -> Snapshot:
    return Snapshot(
        nm_version=data["nm_version"],
        hostname=data["hostname"],
        devices=tuple(_device_from(d) for d in data["devices"]),
        profiles=tuple(Profile(**p) for p in data["profiles"]),
        active=tuple(
            ActiveConnection(**{**a, "devices": tuple(a["devices"])})
            for a in data.get("active", ())
        ),
        access_points=tuple(AccessPoint(**a) for a in data.get("access_points", ())),
        checkpoints=tuple(
            Checkpoint(**{**c, "devices": tuple(c["devices"])}) for c in data.get("checkpoints", ())
        ),
        netplan_files=dict(data.get("netplan_files", {})),
        nm_uses_netplan=bool(data.get("nm_uses_netplan", False)),
        networkd_links=tuple(data.get("networkd_links", ())),
        wifi_powersave=dict(data.get("wifi_powersave", {})),
        session=Session(**data.get("session", {})),
        format=int(data.get("format", SNAPSHOT_FORMAT)),
    )
