"""read_snapshot: one consistent-enough picture of the box, read over D-Bus plus a few files.

All objects come from one ObjectManager.GetManagedObjects call (devices, IP configs, access
points, active connections, checkpoints, profiles' Filename/Flags), then GetSettings per
profile. The rules for what the values mean live in build.py and normalise.py.

It reads through the blocking client (lean.py): no event loop, no D-Bus library to import.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tightrope.core.snapshot import Profile, Snapshot
from tightrope.errors import TightropeError
from tightrope.nm import build, system
from tightrope.nm import constants as c
from tightrope.nm.normalise import merge_secrets, normalise_settings, unwrap

if TYPE_CHECKING:  # loaded with the first read
    from tightrope.nm.lean import LeanBus

# The netplan files' redacted texts, kept between reads (system.read_netplan_files).
REDACTED_MEMO = "run/tightrope/netplan-redacted.json"

SCAN_WAIT_S = 10.0


def read_snapshot(
    *,
    include_secrets: bool = False,
    scan: bool = False,
    bus_address: str | None = None,
    root: str | Path = "/",
    environ: Mapping[str, str] | None = None,
) -> Snapshot:
    """Read the box's network as NetworkManager and the kernel see it.

    root: where /etc/netplan, /proc, /run live (tests point it at a temporary tree).
    environ: where SSH_CONNECTION comes from (default: this process's environment).
    Raises BackendUnavailable when D-Bus or NetworkManager cannot be reached."""

    async def work(bus: LeanBus) -> Snapshot:
        return await read_snapshot_async(
            bus, include_secrets=include_secrets, scan=scan, root=root, environ=environ
        )

    from tightrope.nm.lean import run_lean

    return run_lean(work, bus_address)


async def read_snapshot_async(
    bus: LeanBus,
    *,
    include_secrets: bool = False,
    scan: bool = False,
    root: str | Path = "/",
    environ: Mapping[str, str] | None = None,
) -> Snapshot:
    if scan:
        await request_scans(bus)
    objects: build.Objects = await bus.managed_objects()
    nm = build.props(objects, c.NM_PATH, c.IFACE)
    if not nm:
        # An older daemon without ObjectManager on /org/freedesktop would land here.
        raise TightropeError("NetworkManager exported no objects; is it still starting?")
    profiles = await read_profiles(bus, objects, include_secrets)
    names = build.device_names(objects)
    seen = await _access_points_seen(bus, objects, names)
    objects = await _add_missing_aps(bus, objects, seen)
    devices = build.devices_from(
        objects,
        system.read_bond_texts(
            (n for p, n in names.items() if _type(objects, p) == "bond"), root
        ),
    )
    hostname = str(build.props(objects, c.SETTINGS_PATH, c.IFACE_SETTINGS).get("Hostname", ""))
    env = os.environ if environ is None else environ
    return Snapshot(
        nm_version=str(nm.get("Version", "")),
        hostname=hostname or socket.gethostname(),
        devices=devices,
        profiles=profiles,
        active=build.active_from(objects),
        access_points=build.access_points_from(objects, seen),
        checkpoints=build.checkpoints_from(objects),
        netplan_files=system.read_netplan_files(root, include_secrets, _memo(root)),
        nm_uses_netplan=system.nm_uses_netplan(await bus.nm_pid(), root),
        networkd_links=system.read_networkd_links(root),
        wifi_powersave=_powersave(objects, profiles, root),
        session=system.parse_ssh_connection(env.get("SSH_CONNECTION")),
    )


def _memo(root: str | Path) -> Path | None:
    # root's alone: only root can trust what is kept under /run/tightrope.
    return Path(root) / REDACTED_MEMO if os.geteuid() == 0 else None


def _type(objects: build.Objects, path: str) -> str:
    return c.device_type_name(int(build.props(objects, path, c.IFACE_DEVICE).get("DeviceType", 0)))


async def read_profiles(
    bus: LeanBus, objects: build.Objects, include_secrets: bool
) -> tuple[Profile, ...]:
    from tightrope.nm.lean import Call

    paths = build.paths_with(objects, c.IFACE_CONNECTION)
    # Every profile's settings in one round trip (each look of a verification reads them all).
    replies = bus.call_all([Call(path, c.IFACE_CONNECTION, "GetSettings") for path in paths])
    profiles = []
    for path, reply in zip(paths, replies, strict=True):
        if isinstance(reply, TightropeError):
            if _vanished(reply):
                continue  # deleted while we read: it is no longer part of the picture
            raise reply
        profiles.append(await _profile(bus, path, objects[path][c.IFACE_CONNECTION],
                                       unwrap(reply[0]), include_secrets))  # fmt: skip
    return tuple(sorted(profiles, key=lambda p: (p.id, p.uuid)))


def _vanished(error: TightropeError) -> bool:
    name = getattr(error, "name", "")
    return name.endswith("UnknownMethod") or name.endswith("UnknownObject")


async def _profile(
    bus: LeanBus, path: str, props: Mapping[str, Any], settings: Any, include_secrets: bool
) -> Profile:
    if include_secrets:
        for name in c.SECRET_SETTINGS:
            if name in settings:
                settings = merge_secrets(settings, await _secrets(bus, path, name))
    return build.profile_from(
        normalise_settings(settings),
        filename=str(props.get("Filename", "")),
        flags=int(props.get("Flags", 0)),
        unsaved=bool(props.get("Unsaved", False)),
    )


async def _secrets(bus: LeanBus, path: str, setting: str) -> dict[str, dict[str, Any]]:
    try:
        (raw,) = await bus.call(path, c.IFACE_CONNECTION, "GetSecrets", "s", [setting])
    except TightropeError:
        return {}  # no secrets stored for it (agent-owned, or none): not an error here
    secrets: dict[str, dict[str, Any]] = unwrap(raw)
    return secrets


def _wifi_paths(objects: build.Objects) -> list[str]:
    return build.paths_with(objects, c.IFACE_WIRELESS)


async def _access_points_seen(
    bus: LeanBus, objects: build.Objects, names: Mapping[str, str]
) -> dict[str, list[str]]:
    seen: dict[str, list[str]] = {}
    for path in _wifi_paths(objects):
        try:
            (aps,) = await bus.call(path, c.IFACE_WIRELESS, "GetAllAccessPoints")
        except TightropeError:
            aps = build.props(objects, path, c.IFACE_WIRELESS).get("AccessPoints", [])
        seen[names.get(path, path)] = [str(p) for p in aps]
    return seen


async def _add_missing_aps(
    bus: LeanBus, objects: build.Objects, seen: Mapping[str, list[str]]
) -> build.Objects:
    """Access points that appeared after GetManagedObjects: fetch their properties."""
    missing = {p for paths in seen.values() for p in paths if p not in objects}
    if not missing:
        return objects
    merged = dict(objects)
    for path in missing:
        try:
            merged[path] = {c.IFACE_AP: await bus.get_all(path, c.IFACE_AP)}
        except TightropeError:
            continue
    return merged


async def request_scans(bus: LeanBus, wait_s: float = SCAN_WAIT_S) -> None:
    """Ask every Wi-Fi device to scan and wait (bounded) until each reports a newer scan.
    NetworkManager refuses scans it considers too frequent; the old results then stand."""
    objects = await bus.managed_objects()
    before = {
        p: int(build.props(objects, p, c.IFACE_WIRELESS).get("LastScan", 0))
        for p in _wifi_paths(objects)
    }
    pending = []
    for path in before:
        try:
            await bus.call(path, c.IFACE_WIRELESS, "RequestScan", "a{sv}", [{}])
            pending.append(path)
        except TightropeError:
            continue
    deadline = time.monotonic() + wait_s
    while pending and time.monotonic() < deadline:
        await bus.pause(0.5)
        still = []
        for path in pending:
            last = int(await bus.get(path, c.IFACE_WIRELESS, "LastScan"))
            if last == before[path]:
                still.append(path)
        pending = still


def _powersave(
    objects: build.Objects, profiles: tuple[Profile, ...], root: str | Path
) -> dict[str, bool]:
    by_uuid = {p.uuid: p for p in profiles}
    wifi: dict[str, int | None] = {}
    for path in _wifi_paths(objects):
        dev = build.props(objects, path, c.IFACE_DEVICE)
        active = build.props(objects, dev.get("ActiveConnection"), c.IFACE_ACTIVE)
        profile = by_uuid.get(str(active.get("Uuid", "")))
        value = profile.get("802-11-wireless", "powersave") if profile else None
        wifi[str(dev.get("Interface", ""))] = None if value is None else int(value)
    global_value = system.parse_nm_conf_powersave(system.read_nm_conf_texts(root))
    if Path(root) != Path("/"):
        # Reading a copied tree: the driver's live answer would describe this machine instead.
        return system.wifi_powersave(wifi, global_value, live=lambda _name: None)
    return system.wifi_powersave(wifi, global_value)
