"""Pure assembly of snapshot records from NetworkManager's objects.

Input is the unwrapped result of ObjectManager.GetManagedObjects: object path -> interface ->
property -> plain value. Keeping the D-Bus calls out of this module lets every rule about
what a property means be tested on plain dicts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tightrope.core.procbond import parse_proc_bond
from tightrope.core.snapshot import (
    AccessPoint,
    ActiveConnection,
    BondRuntime,
    Checkpoint,
    Device,
    Profile,
)
from tightrope.nm import constants as c
from tightrope.nm.normalise import ip4_from_u32, ssid_text

Props = Mapping[str, Any]
Objects = Mapping[str, Mapping[str, Props]]


def props(objects: Objects, path: str | None, interface: str) -> Props:
    if not path or path == c.NO_OBJECT:
        return {}
    return objects.get(path, {}).get(interface, {})


def paths_with(objects: Objects, interface: str) -> list[str]:
    return sorted(path for path, ifaces in objects.items() if interface in ifaces)


def device_names(objects: Objects) -> dict[str, str]:
    """Device object path -> interface name."""
    return {
        path: str(objects[path][c.IFACE_DEVICE].get("Interface", ""))
        for path in paths_with(objects, c.IFACE_DEVICE)
    }


def controllers(objects: Objects) -> dict[str, str]:
    """Port device path -> its controller's interface name, from the controllers' port lists
    (Device.Ports since 1.34; Device.Bond.Slaves before)."""
    names = device_names(objects)
    result: dict[str, str] = {}
    for path, name in names.items():
        ports = props(objects, path, c.IFACE_DEVICE).get("Ports")
        if ports is None:
            ports = props(objects, path, c.IFACE_BOND).get("Slaves", [])
        for port in ports:
            result[str(port)] = name
    return result


def devices_from(objects: Objects, bond_texts: Mapping[str, str]) -> tuple[Device, ...]:
    """bond_texts: interface -> text of /proc/net/bonding/<interface>, for bonds."""
    ctrl = controllers(objects)
    devices = [
        device_from(objects, path, ctrl.get(path), bond_texts)
        for path in paths_with(objects, c.IFACE_DEVICE)
        # Unrealized devices (Real=false) are NetworkManager's placeholders for software
        # devices a profile could create, e.g. a deleted bond's: no kernel interface exists.
        if objects[path][c.IFACE_DEVICE].get("Real", True)
    ]
    return tuple(sorted(devices, key=lambda d: d.interface))


def device_from(
    objects: Objects, path: str, controller: str | None, bond_texts: Mapping[str, str]
) -> Device:
    dev = props(objects, path, c.IFACE_DEVICE)
    wired = props(objects, path, c.IFACE_WIRED)
    wifi = props(objects, path, c.IFACE_WIRELESS)
    bond_iface = props(objects, path, c.IFACE_BOND)
    interface = str(dev.get("Interface", ""))
    type_name = c.device_type_name(int(dev.get("DeviceType", 0)))
    mac = dev.get("HwAddress") or wired.get("HwAddress") or wifi.get("HwAddress") or ""
    perm = wired.get("PermHwAddress") or wifi.get("PermHwAddress") or None
    ip4 = props(objects, dev.get("Ip4Config"), c.IFACE_IP4)
    ip6 = props(objects, dev.get("Ip6Config"), c.IFACE_IP6)
    ap = props(objects, wifi.get("ActiveAccessPoint"), c.IFACE_AP)
    active = props(objects, dev.get("ActiveConnection"), c.IFACE_ACTIVE)
    bond: BondRuntime | None = None
    if type_name == "bond" and interface in bond_texts:
        try:
            bond = parse_proc_bond(bond_texts[interface])
        except ValueError:
            bond = None  # a half-created bond; the device record still tells the story
    return Device(
        interface=interface,
        type=type_name,
        state=c.device_state_name(int(dev.get("State", 0))),
        managed=bool(dev.get("Managed", False)),
        mac=str(mac).upper(),
        permanent_mac=str(perm).upper() if perm else None,
        carrier=_carrier(dev, wired, bond_iface),
        driver=str(dev.get("Driver", "")),
        speed_mbit=_speed(wired, wifi),
        active_profile=str(active["Uuid"]) if active.get("Uuid") else None,
        controller=controller,
        ip4_addresses=_addresses(ip4),
        ip4_gateway=str(ip4.get("Gateway") or "") or None,
        ip4_dns=_ip4_dns(ip4),
        ip6_addresses=_addresses(ip6),
        ssid=ssid_text(ap["Ssid"]) if ap.get("Ssid") else None,
        signal=int(ap["Strength"]) if "Strength" in ap else None,
        state_reason=_reason(dev.get("StateReason")),
        bond=bond,
    )


def _carrier(dev: Props, wired: Props, bond: Props) -> bool | None:
    for source in (wired, bond):
        if "Carrier" in source:
            return bool(source["Carrier"])
    if "InterfaceFlags" in dev:
        return bool(int(dev["InterfaceFlags"]) & c.INTERFACE_FLAG_CARRIER)
    return None


def _speed(wired: Props, wifi: Props) -> int | None:
    if wired.get("Speed"):
        return int(wired["Speed"])
    if wifi.get("Bitrate"):
        return int(wifi["Bitrate"]) // 1000  # kbit/s
    return None


def _addresses(ip: Props) -> tuple[str, ...]:
    return tuple(f"{a['address']}/{a['prefix']}" for a in ip.get("AddressData", []))


def _ip4_dns(ip: Props) -> tuple[str, ...]:
    data = ip.get("NameserverData")
    if data is not None:
        return tuple(str(d["address"]) for d in data)
    return tuple(ip4_from_u32(int(v)) for v in ip.get("Nameservers", []))


def _reason(value: Any) -> str | None:
    if not value:
        return None
    reason = c.state_reason_name(int(value[1]))
    return None if reason == "none" else reason


def profile_from(
    settings: Mapping[str, Mapping[str, Any]], filename: str, flags: int, unsaved: bool
) -> Profile:
    """settings are already normalised (normalise_settings)."""
    conn = settings.get("connection", {})
    if unsaved:
        flags |= c.ConnectionFlag.UNSAVED
    return Profile(
        uuid=str(conn.get("uuid", "")),
        id=str(conn.get("id", "")),
        type=str(conn.get("type", "")),
        interface=conn.get("interface-name") or None,
        filename=filename,
        flags=int(flags),
        settings={k: dict(v) for k, v in settings.items()},
    )


def active_from(objects: Objects) -> tuple[ActiveConnection, ...]:
    names = device_names(objects)
    result = []
    for path in paths_with(objects, c.IFACE_ACTIVE):
        ac = objects[path][c.IFACE_ACTIVE]
        result.append(
            ActiveConnection(
                uuid=str(ac.get("Uuid", "")),
                id=str(ac.get("Id", "")),
                type=str(ac.get("Type", "")),
                state=c.active_state_name(int(ac.get("State", 0))),
                devices=tuple(names.get(str(d), str(d)) for d in ac.get("Devices", [])),
                default4=bool(ac.get("Default", False)),
            )
        )
    return tuple(sorted(result, key=lambda a: (a.id, a.uuid)))


def access_points_from(
    objects: Objects, seen: Mapping[str, list[str]]
) -> tuple[AccessPoint, ...]:
    """seen: Wi-Fi interface -> AP paths it reports (GetAllAccessPoints)."""
    result = []
    for interface, paths in sorted(seen.items()):
        for path in paths:
            ap = props(objects, path, c.IFACE_AP)
            if not ap:
                continue  # vanished between the two calls
            if not ap.get("HwAddress"):
                # While it looks for a network not in its scan list, NetworkManager lists a
                # placeholder ("fake") AP with the profile's SSID and no BSSID: it is what
                # NetworkManager seeks, not something a radio saw.
                continue
            secured = bool(
                int(ap.get("Flags", 0)) & c.AP_FLAGS_PRIVACY
                or ap.get("WpaFlags")
                or ap.get("RsnFlags")
            )
            result.append(
                AccessPoint(
                    ssid=ssid_text(ap.get("Ssid", b"")),
                    bssid=str(ap.get("HwAddress", "")).upper(),
                    signal=int(ap.get("Strength", 0)),
                    frequency_mhz=int(ap.get("Frequency", 0)),
                    secured=secured,
                    seen_by=interface,
                )
            )
    return tuple(sorted(result, key=lambda a: (a.seen_by, -a.signal, a.ssid, a.bssid)))


def checkpoints_from(objects: Objects) -> tuple[Checkpoint, ...]:
    names = device_names(objects)
    paths = props(objects, c.NM_PATH, c.IFACE).get("Checkpoints")
    if paths is None:
        paths = paths_with(objects, c.IFACE_CHECKPOINT)
    result = []
    for path in paths:
        cp = props(objects, str(path), c.IFACE_CHECKPOINT)
        if not cp:
            continue
        result.append(
            Checkpoint(
                path=str(path),
                devices=tuple(names.get(str(d), str(d)) for d in cp.get("Devices", [])),
                created_ms=int(cp.get("Created", 0)),
                rollback_timeout_s=int(cp.get("RollbackTimeout", 0)),
            )
        )
    return tuple(result)
