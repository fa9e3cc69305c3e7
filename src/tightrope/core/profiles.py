"""The desired state as NetworkManager profiles: pure translation, model -> settings dicts.

Settings use the same JSON-typed shape as Profile.settings in a snapshot (see snapshot.py),
so desired and existing profiles compare key by key; tightrope.nm turns them into D-Bus
variants. Profile UUIDs are derived from the bond and port names, so re-applying the same
file finds tightrope's own profiles again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tightrope.core.model import BOND_MODES, BondConfig, Port
from tightrope.core.ownership import made_by_tightrope as made_by_tightrope
from tightrope.core.ownership import port_profile_id as port_profile_id
from tightrope.core.ownership import profile_uuid as profile_uuid
from tightrope.core.redact import redact_settings, safe_repr
from tightrope.core.snapshot import BOND, ETHERNET, WIFI, Profile

# ms NetworkManager spends probing the bond's static address with ARP before configuring it
# (ipv4.dad-timeout); RFC 5227's 9 s is meant for link-local addresses picked at random. In
# the lab (TCG) the address came 0.5 s after the bond's carrier, a conflict was reported
# 0.4 s after it, and a cable pull (the bond's MAC moves, NetworkManager restarts its ACD)
# left the address in place.
DAD_TIMEOUT_MS = 500

# NetworkManager leaves out keys at their default value; a missing key means this.
DEFAULTS: Mapping[tuple[str, str], Any] = {
    ("connection", "autoconnect"): True,
    ("connection", "autoconnect-slaves"): -1,
    ("802-11-wireless", "mode"): "infrastructure",
    ("802-11-wireless", "powersave"): 0,
    ("ipv4", "dns"): [],
    ("ipv4", "dns-search"): [],
    ("ipv4", "address-data"): [],
    ("ipv6", "address-data"): [],
    ("ipv6", "dns"): [],
    ("ipv6", "method"): "auto",
}

# The kernel numbers the modes in the order model.BOND_MODES lists them.
_BOND_MODE_NUMBERS = dict(enumerate(BOND_MODES))
_FOM_NUMBERS = {0: "none", 1: "active", 2: "follow"}
_ARP_VALIDATE_NUMBERS = dict(enumerate(
    ("none", "active", "backup", "all", "filter", "filter_active", "filter_backup")))  # fmt: skip
_ARP_ALL_TARGETS_NUMBERS = {0: "any", 1: "all"}
_BOND_OPTION_DEFAULTS = {
    "updelay": "0",
    "downdelay": "0",
    "fail_over_mac": "none",
    "num_grat_arp": "1",
    "peer_notif_delay": "0",
    "arp_interval": "0",
    "arp_validate": "none",
    "arp_all_targets": "any",
    "arp_missed_max": "2",
}


@dataclass(frozen=True)
class DesiredProfile:
    id: str
    uuid: str
    type: str
    interface: str
    settings: Mapping[str, Mapping[str, Any]]
    port_of: str | None = None  # the bond's interface, for ports

    def __repr__(self) -> str:
        return safe_repr(self, settings=redact_settings(self.settings))


def desired_profiles(config: BondConfig) -> tuple[DesiredProfile, ...]:
    bond = _bond_profile(config)
    return (bond, *(_port_profile(config, p, bond.uuid) for p in config.ports))


def _bond_profile(config: BondConfig) -> DesiredProfile:
    options: dict[str, str] = {"mode": config.mode, "miimon": str(config.miimon)}
    if config.arp is not None:
        options.update(config.arp.nm_options())
    if config.primary:
        options["primary"] = config.primary
    if config.updelay:
        options["updelay"] = str(config.updelay)
    if config.downdelay:
        options["downdelay"] = str(config.downdelay)
    if config.fail_over_mac != "none":
        options["fail_over_mac"] = config.fail_over_mac
    if config.num_grat_arp != 1:
        options["num_grat_arp"] = str(config.num_grat_arp)
    if config.peer_notif_delay:
        options["peer_notif_delay"] = str(config.peer_notif_delay)
    settings: dict[str, dict[str, Any]] = {
        "connection": {
            "id": config.name,
            "uuid": profile_uuid(config.name),
            "type": BOND,
            "interface-name": config.name,
            "autoconnect": True,
            # Bringing the bond up brings its ports up too, also at boot.
            "autoconnect-slaves": 1,
        },
        "bond": {"options": options},
        "ipv4": _ipv4_settings(config),
        "ipv6": _ipv6_settings(config),
    }
    if config.mtu:
        settings["802-3-ethernet"] = {"mtu": config.mtu}
    return DesiredProfile(config.name, profile_uuid(config.name), BOND, config.name, settings)


def _ipv4_settings(config: BondConfig) -> dict[str, Any]:
    v4 = config.ipv4
    if v4.dhcp:
        out: dict[str, Any] = {"method": "auto"}
        if v4.dhcp_identifier:
            out["dhcp-client-id"] = v4.dhcp_identifier
    else:
        out = {
            "method": "manual",
            "address-data": [
                {"address": str(a.ip), "prefix": a.network.prefixlen} for a in v4.addresses
            ],
        }
        if v4.gateway:
            out["gateway"] = str(v4.gateway)
        # NetworkManager probes a manual address with ARP before it configures it only when
        # asked (its default dad-timeout is 0: no probe), and then a conflict merely leaves
        # the address off while IPv6 keeps the bond "activating" (1.42: ipv4.may-fail lets
        # the other family carry the device). may-fail=false turns the conflict into the
        # bond failing with ip-config-unavailable, which verification reports at once; the
        # probe also keeps us from taking the other machine's address in everyone's ARP
        # cache. NetworkManager probes only if the bond has a carrier within 2 s of starting
        # its IP configuration (then it configures the address unprobed): its port must be
        # enslaved by then, which took 0.9 s in the lab.
        out["dad-timeout"] = DAD_TIMEOUT_MS
        out["may-fail"] = False
    out["dns"] = [str(a) for a in v4.dns]
    out["dns-search"] = list(v4.search)
    return out


def _ipv6_settings(config: BondConfig) -> dict[str, Any]:
    v6 = config.ipv6
    method = {"auto": "auto", "disabled": "disabled", "static": "manual"}[v6.method]
    out: dict[str, Any] = {"method": method}
    if method == "manual":
        out["address-data"] = [
            {"address": str(a.ip), "prefix": a.network.prefixlen} for a in v6.addresses
        ]
        if v6.gateway:
            out["gateway"] = str(v6.gateway)
    if v6.dns:
        out["dns"] = [str(a) for a in v6.dns]
    return out


def _port_profile(config: BondConfig, port: Port, bond_uuid: str) -> DesiredProfile:
    pid = port_profile_id(config.name, port.interface)
    puid = profile_uuid(config.name, port.interface)
    kind = WIFI if port.is_wifi else ETHERNET
    settings: dict[str, dict[str, Any]] = {
        "connection": {
            "id": pid,
            "uuid": puid,
            "type": kind,
            "interface-name": port.interface,
            "master": bond_uuid,
            "slave-type": "bond",
            "autoconnect": True,
        },
    }
    if port.is_wifi:
        # Power saving on a backup radio adds hundreds of ms to the first frames after a
        # failover; 2 = disable.
        settings[WIFI] = {"ssid": port.ssid, "mode": "infrastructure", "powersave": 2}
        security: dict[str, Any] = {"key-mgmt": "wpa-psk"}
        if port.psk is not None:
            security["psk"] = port.psk.reveal()
        settings["802-11-wireless-security"] = security
    return DesiredProfile(pid, puid, kind, port.interface, settings, port_of=config.name)


def normalise_bond_options(options: Mapping[str, Any]) -> dict[str, str]:
    """NetworkManager may hand back numbers where names were written; compare by name."""
    out = {str(k): str(v) for k, v in options.items()}
    # The kernel has one counter under two names; NetworkManager may report either.
    if "num_unsol_na" in out:
        out.setdefault("num_grat_arp", out.pop("num_unsol_na"))
    if out.get("mode", "").isdigit():
        out["mode"] = _BOND_MODE_NUMBERS.get(int(out["mode"]), out["mode"])
    for key, names in (("fail_over_mac", _FOM_NUMBERS), ("arp_validate", _ARP_VALIDATE_NUMBERS),
                       ("arp_all_targets", _ARP_ALL_TARGETS_NUMBERS)):  # fmt: skip
        if out.get(key, "").isdigit():
            out[key] = names.get(int(out[key]), out[key])
    for key, default in _BOND_OPTION_DEFAULTS.items():
        if out.get(key) == default:
            del out[key]
    if "arp_interval" in out and out.get("miimon") == "0":
        del out["miimon"]  # NetworkManager may leave it out beside arp_interval
    return out


def setting_differences(desired: DesiredProfile, existing: Profile) -> tuple[str, ...]:
    """Keys (setting.key) whose desired value differs from the existing profile's.

    Only keys tightrope writes count: NetworkManager adds many of its own (timestamps,
    permissions) that are no business of ours. A secret that could not be read (no root)
    counts as different, so the PSK is written rather than assumed.
    """
    diffs: list[str] = []
    for setting, keys in desired.settings.items():
        for key, want in keys.items():
            if setting == "connection" and key in ("uuid", "id") and existing.uuid == desired.uuid:
                if key == "id" and existing.id != want:
                    diffs.append("connection.id")
                continue
            have = existing.get(setting, key, DEFAULTS.get((setting, key)))
            if not _same(setting, key, want, have, desired.port_of):
                diffs.append(f"{setting}.{key}")
    return tuple(diffs)


def _same(setting: str, key: str, want: Any, have: Any, bond: str | None) -> bool:
    if setting == "bond" and key == "options":
        return normalise_bond_options(want) == normalise_bond_options(have or {})
    if setting == "connection" and key == "master":
        # A port may name its bond by UUID or by interface name; both mean the same bond.
        return have in (want, bond)
    if isinstance(want, str) and isinstance(have, str) and key.endswith("mac-address"):
        return want.upper() == have.upper()
    return bool(want == have)
