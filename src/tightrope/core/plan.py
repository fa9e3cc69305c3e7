"""What exists, what conflicts, exactly what will change: desired state + snapshot -> Plan.

Pure. The plan never holds a secret in anything it renders: changed secret keys are named,
their values never shown.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tightrope.core.cautions import Caution, Probes, warnings_for
from tightrope.core.discovery import Discovery, discover
from tightrope.core.model import BondConfig
from tightrope.core.netplan_yaml import carried_over
from tightrope.core.netplan_yaml import render as render_netplan
from tightrope.core.profiles import DesiredProfile, desired_profiles, port_profile_id
from tightrope.core.profiles import setting_differences as _differences
from tightrope.core.redact import is_secret_key
from tightrope.core.snapshot import Snapshot
from tightrope.core.storage import CommitAs, StorageReport, commit_as, storage_report


@dataclass(frozen=True)
class Change:
    action: str  # add, modify, retire, activate
    profile: str  # the profile's name (id)
    uuid: str
    interface: str
    details: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    bond: str
    changes: tuple[Change, ...]
    warnings: tuple[Caution, ...]
    discovery: Discovery
    reconnect_at: str | None  # the address the admin will find the box at afterwards
    storage: StorageReport
    desired: tuple[DesiredProfile, ...] = field(repr=False, default=())

    @property
    def no_change(self) -> bool:
        return not self.changes

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; holds no secret (desired settings are left out on purpose)."""
        return {
            "bond": self.bond,
            "no_change": self.no_change,
            "changes": [asdict(c) for c in self.changes],
            "warnings": [asdict(w) for w in self.warnings],
            "discovery": asdict(self.discovery),
            "reconnect_at": self.reconnect_at,
            "storage": asdict(self.storage),
        }


def make_plan(config: BondConfig, snapshot: Snapshot, probes: Probes | None = None) -> Plan:
    desired = desired_profiles(config)
    own = frozenset(d.uuid for d in desired)
    found = discover(config, snapshot, own)
    changes: list[Change] = []
    for want in desired:
        have = snapshot.profile(want.uuid)
        if have is None or have.uuid != want.uuid:
            changes.append(Change("add", want.id, want.uuid, want.interface, _summary(want)))
            continue
        diffs = _differences(want, have)
        if diffs:
            shown = tuple(f"{d} (secret)" if _is_secret(d) else d for d in diffs)
            changes.append(Change("modify", want.id, want.uuid, want.interface, shown))
    seen: set[str] = set()
    for claim in found.claims:
        if claim.uuid in own or claim.uuid in seen:
            continue
        seen.add(claim.uuid)
        changes.append(
            Change("retire", claim.id, claim.uuid, claim.interface, _retire_details(claim, found))
        )
    if not changes and not _in_place(config, desired, snapshot):
        bond = desired[0]
        changes.append(
            Change(
                "activate",
                bond.id,
                bond.uuid,
                bond.interface,
                ("the profiles exist but the bond or a port is not active with them",),
            )
        )
    reconnect = str(config.new_address) if config.new_address else None
    retired = {c.uuid: _filename(snapshot, c.uuid) for c in changes if c.action == "retire"}
    written = {c.uuid for c in changes if c.action in ("add", "modify")}
    storage = storage_report(
        found,
        desired,
        retired,
        {c.uuid: _filename(snapshot, c.uuid) for c in changes if c.action == "modify"},
        written,
        render_netplan(config, carry=carry_for(config, found, snapshot)),
    )
    cautions = warnings_for(config, snapshot, found, bool(changes), probes or Probes())
    if storage.psk_in_yaml and changes:
        cautions += (
            Caution("psk-in-yaml", "The bond is committed as netplan YAML here, so the Wi-Fi "
                    f"PSK is written in clear text into the root-only (0600) "
                    f"{storage.netplan_file}, as netplan itself keeps it; tightrope copies it "
                    "nowhere else.", "info"),
        )  # fmt: skip
    return Plan(
        bond=config.name,
        changes=tuple(changes),
        warnings=cautions,
        discovery=found,
        reconnect_at=reconnect,
        storage=storage,
        desired=desired,
    )


def carry_for(
    config: BondConfig, found: Discovery, snapshot: Snapshot
) -> dict[str, dict[str, Any]]:
    """What the ports' new netplan stanzas take over from the ones the commit removes, or,
    re-applied, keep from tightrope's own file."""
    stanzas = [
        (found.netplan_own, "wifis" if p.is_wifi else "ethernets",
         port_profile_id(config.name, p.interface), p.interface)
        for p in config.ports if found.netplan_own
    ]  # fmt: skip
    stanzas += [(s.path, s.section, s.key, s.interface) for s in found.netplan]
    return carried_over(stanzas, snapshot.netplan_files)


def _filename(snapshot: Snapshot, uuid: str) -> str:
    p = snapshot.profile(uuid)
    return p.filename if p else ""


def _is_secret(dotted: str) -> bool:
    return is_secret_key(dotted.partition(".")[2])


def _summary(want: DesiredProfile) -> tuple[str, ...]:
    s = want.settings
    if want.port_of is None:
        opts = s["bond"]["options"]
        lines = [", ".join(f"{k}={v}" for k, v in opts.items())]
        v4 = s["ipv4"]
        if v4["method"] == "manual":
            addrs = ", ".join(f"{a['address']}/{a['prefix']}" for a in v4["address-data"])
            lines.append(f"ipv4 {addrs} via {v4.get('gateway', '-')}")
        else:
            lines.append("ipv4 DHCP")
        if v4.get("dns"):
            lines.append("dns " + ", ".join(v4["dns"]))
        lines.append(f"ipv6 {s['ipv6']['method']}")
        return tuple(lines)
    if "802-11-wireless" in s:
        return (
            f"Wi-Fi port of {want.port_of}, SSID {s['802-11-wireless']['ssid']!r}, "
            "WPA-PSK, power saving off",
        )
    return (f"Ethernet port of {want.port_of}",)


def _retire_details(claim: Any, found: Discovery) -> tuple[str, ...]:
    details = [
        f"{claim.origin} profile, claims {claim.interface} by {claim.by}, "
        f"stored {claim.storage}" + (f" ({claim.filename})" if claim.filename else "")
    ]
    gone_with_stanza = claim.origin == "netplan" and commit_as(found) is CommitAs.NETPLAN
    if claim.active:
        details.append("active now: deactivated at apply, "
                       + ("gone at commit with its stanza" if gone_with_stanza
                          else "deleted only at commit"))  # fmt: skip
    if claim.origin == "netplan":
        stanzas = [n for n in found.netplan if n.interface == claim.interface]
        for n in stanzas:
            details.append(
                f"defined by {n.path} ({n.section}.{n.key}): at commit the stanza is "
                "removed (file backed up) so it does not return at boot"
            )
    return tuple(details)


def _in_place(config: BondConfig, desired: tuple[DesiredProfile, ...], snap: Snapshot) -> bool:
    by_iface = {d.interface: d.uuid for d in desired}
    for iface, uuid in by_iface.items():
        device = snap.device(iface)
        if device is None or device.active_profile != uuid:
            return False
    return True
