"""Who claims the ports today: profiles, netplan files, systemd-networkd. Pure, from a snapshot."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tightrope.core.ownership import is_own_file, made_by_tightrope, own_file
from tightrope.core.snapshot import BOND, ETHERNET, WIFI, Profile, Snapshot

if TYPE_CHECKING:  # status reads the claims without the model's validation (its start-up)
    from tightrope.core.model import BondConfig

_KIND_FOR_TYPE = {ETHERNET: "ethernet", WIFI: "wifi", BOND: "bond"}


@dataclass(frozen=True)
class Claim:
    """A profile that NetworkManager could activate on one of our interfaces."""

    interface: str
    uuid: str
    id: str
    origin: str  # netplan, wired-default, rpios-preconfigured, tightrope, other
    by: str  # interface-name, mac, any-device
    storage: str  # etc, run, netplan, memory
    filename: str
    active: bool


@dataclass(frozen=True)
class NetplanStanza:
    """A netplan YAML stanza that defines one of our interfaces."""

    path: str
    section: str  # ethernets, wifis, bonds
    key: str
    interface: str

    @property
    def name(self) -> str:
        """As netplan's tools name it: `ethernets.eth0`."""
        return f"{self.section}.{self.key}"


def stanzas_by_file(stanzas: Iterable[NetplanStanza]) -> dict[str, list[NetplanStanza]]:
    """The stanzas grouped by the file that holds them, files in path order."""
    out: dict[str, list[NetplanStanza]] = {}
    for s in sorted(stanzas, key=lambda s: s.path):
        out.setdefault(s.path, []).append(s)
    return out


@dataclass(frozen=True)
class Discovery:
    claims: tuple[Claim, ...]
    netplan: tuple[NetplanStanza, ...]
    networkd: tuple[str, ...]
    missing: tuple[str, ...]
    unmanaged: tuple[str, ...]
    storage_world: str  # "keyfile" or "netplan"
    netplan_own: str = ""  # tightrope's own netplan file for this bond, if a commit wrote one

    def claims_on(self, interface: str) -> tuple[Claim, ...]:
        return tuple(c for c in self.claims if c.interface == interface)


def origin_of(profile: Profile) -> str:
    """Where a profile came from, in the words an admin would use."""
    if made_by_tightrope(profile.uuid, profile.id, profile.interface):
        return "tightrope"
    if profile.id.startswith("netplan-") or "/netplan-" in profile.filename:
        return "netplan"
    if profile.id == "preconfigured":
        return "rpios-preconfigured"
    if profile.id.startswith("Wired connection") or profile.flags & 2:
        return "wired-default"
    return "other"


def storage_world(snapshot: Snapshot) -> str:
    """Ubuntu's patched NetworkManager keeps profiles as netplan YAML; Debian's as keyfiles."""
    if snapshot.nm_uses_netplan:
        return "netplan"
    for p in snapshot.profiles:
        name = p.filename.rsplit("/", 1)[-1]
        if p.filename.startswith("/etc/netplan/90-NM-") or name.startswith("netplan-NM-"):
            return "netplan"
    return "keyfile"


def discover(config: BondConfig, snapshot: Snapshot, own_uuids: frozenset[str]) -> Discovery:
    interfaces = [config.name, *(p.interface for p in config.ports)]
    active = {a.uuid for a in snapshot.active}
    claims: list[Claim] = []
    for profile in snapshot.profiles:
        for iface in interfaces:
            by = _claims(profile, iface, config, snapshot)
            if by is None:
                continue
            origin = "tightrope" if profile.uuid in own_uuids else origin_of(profile)
            claims.append(
                Claim(
                    iface,
                    profile.uuid,
                    profile.id,
                    origin,
                    by,
                    profile.storage,
                    profile.filename,
                    profile.uuid in active,
                )
            )
    missing = tuple(i for i in interfaces[1:] if snapshot.device(i) is None)
    unmanaged = tuple(
        i for i in interfaces[1:] if (d := snapshot.device(i)) is not None and not d.managed
    )
    return Discovery(
        claims=tuple(claims),
        netplan=tuple(netplan_stanzas(snapshot, interfaces)),
        networkd=tuple(i for i in interfaces if i in snapshot.networkd_links),
        missing=missing,
        unmanaged=unmanaged,
        storage_world=storage_world(snapshot),
        netplan_own=own if (own := own_file(config.name)) in snapshot.netplan_files else "",
    )


def _claims(profile: Profile, iface: str, config: BondConfig, snapshot: Snapshot) -> str | None:
    want_kind = "bond" if iface == config.name else _port_kind(config, iface)
    return claim_by(profile, iface, want_kind, snapshot)


def claim_by(profile: Profile, iface: str, kind: str, snapshot: Snapshot) -> str | None:
    """How `profile` could be activated on device `iface` of `kind` (ethernet, wifi, bond):
    interface-name, mac, any-device; None if it cannot."""
    have_kind = _KIND_FOR_TYPE.get(profile.type)
    if have_kind is None:
        return None
    if profile.interface:
        return "interface-name" if profile.interface == iface else None
    if have_kind != kind:
        return None
    device = snapshot.device(iface)
    mac = profile.mac_match
    if mac:
        macs = {m.upper() for m in (device.permanent_mac, device.mac) if m} if device else set()
        return "mac" if mac in macs else None
    # A profile bound to no interface and no MAC (a port of some other bond excepted) may be
    # activated on any device of its type: it competes for ours.
    if profile.controller:
        return None
    return "any-device" if have_kind != "bond" else None


def _port_kind(config: BondConfig, iface: str) -> str:
    port = config.port(iface)
    return port.kind.value if port else ""


def netplan_stanzas(
    snapshot: Snapshot, interfaces: list[str], *, include_own: bool = False
) -> list[NetplanStanza]:
    import yaml  # only a box with netplan files pays for the parser

    out: list[NetplanStanza] = []
    for path in sorted(snapshot.netplan_files):
        if is_own_file(path) and not include_own:
            continue  # what defines our bond is ours to rewrite, never a stanza to remove
        try:
            doc = yaml.safe_load(snapshot.netplan_files[path])
        except yaml.YAMLError:
            continue  # netplan itself will complain about it; not ours to judge here
        network = doc.get("network") if isinstance(doc, dict) else None
        if not isinstance(network, dict):
            continue
        for section in ("ethernets", "wifis", "bonds"):
            stanzas = network.get(section)
            if not isinstance(stanzas, dict):
                continue
            for key, body in stanzas.items():
                for iface in interfaces:
                    if _stanza_defines(str(key), body, iface, snapshot):
                        out.append(NetplanStanza(path, section, str(key), iface))
    return out


def _stanza_defines(key: str, body: Any, iface: str, snapshot: Snapshot) -> bool:
    match = body.get("match") if isinstance(body, dict) else None
    if not isinstance(match, dict):
        return key == iface
    name = match.get("name")
    if isinstance(name, str) and not fnmatch.fnmatchcase(iface, name):
        return False
    mac = match.get("macaddress")
    if isinstance(mac, str):
        device = snapshot.device(iface)
        macs = {m.upper() for m in (device.permanent_mac, device.mac) if m} if device else set()
        if mac.upper() not in macs:
            return False
    if isinstance(body, dict) and isinstance(body.get("set-name"), str):
        return bool(body["set-name"] == iface)
    return isinstance(name, str) or isinstance(mac, str)
