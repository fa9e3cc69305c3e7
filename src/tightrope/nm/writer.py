"""Thin typed wrappers over NetworkManager's write calls: checkpoints, profiles, activation.

Every function is synchronous, opens its own short connection (`bus_address` to override the
system bus) and raises NMError (D-Bus error name in `.name`) or BackendUnavailable. The
calls go over the blocking client (lean.py): a change's runner never imports asyncio or
dbus-fast (0.7 s of a small box's start, on the way to the change). The `*_async` twins
are its never-suspending work, for callers that hold a connection already.
Profiles are named by UUID, devices by interface name; object paths stay inside.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tightrope.nm import build
from tightrope.nm import constants as c
from tightrope.nm.constants import AddFlag, CheckpointFlag, RollbackResult, UpdateFlag
from tightrope.nm.errors import NMError
from tightrope.nm.lean import LeanBus, run_lean
from tightrope.nm.normalise import merge_secrets, normalise_settings, unwrap
from tightrope.nm.to_dbus import settings_to_dbus

Settings = Mapping[str, Mapping[str, Any]]



# -- lookups -------------------------------------------------------------------------------


async def device_path(bus: LeanBus, interface: str) -> str:
    if interface.startswith("/"):
        return interface
    (paths,) = await bus.call(c.NM_PATH, c.IFACE, "GetAllDevices")
    for path in paths:
        if await bus.get(str(path), c.IFACE_DEVICE, "Interface") == interface:
            return str(path)
    raise NMError(f"NetworkManager has no device {interface!r}", "tightrope.NoSuchDevice")


async def connection_path(bus: LeanBus, uuid: str) -> str:
    if uuid.startswith("/"):
        return uuid
    (path,) = await bus.call(
        c.SETTINGS_PATH, c.IFACE_SETTINGS, "GetConnectionByUuid", "s", [uuid]
    )
    return str(path)


async def _device_names(bus: LeanBus) -> dict[str, str]:
    return build.device_names(await bus.managed_objects())


# -- checkpoints ---------------------------------------------------------------------------


def safe_checkpoint_flags(devices: Sequence[str]) -> CheckpointFlag:
    """Roll back deletes profiles added since; disconnecting new devices (the bond) is only
    accepted for a checkpoint of all devices (NetworkManager 1.42 refuses it with a list).
    With a list, deleting the bond's new profile takes its software device away anyway."""
    flags = CheckpointFlag.DELETE_NEW_CONNECTIONS
    if not devices:
        flags |= CheckpointFlag.DISCONNECT_NEW_DEVICES
    return flags


async def checkpoint_create_async(
    bus: LeanBus, devices: Sequence[str], timeout_s: int, flags: int | None = None
) -> str:
    if flags is None:
        flags = safe_checkpoint_flags(devices)
    paths = [await device_path(bus, d) for d in devices]
    (checkpoint,) = await bus.call(
        c.NM_PATH, c.IFACE, "CheckpointCreate", "aouu", [paths, int(timeout_s), int(flags)]
    )
    return str(checkpoint)


def checkpoint_create(
    devices: Sequence[str],
    timeout_s: int,
    flags: int | None = None,
    *,
    bus_address: str | None = None,
) -> str:
    """Snapshot the devices (interface names; empty = all) in NetworkManager's memory; roll
    back by itself after timeout_s (0 = never). Returns the checkpoint's object path.
    flags default to safe_checkpoint_flags(devices).
    NetworkManager refuses a checkpoint overlapping an existing one unless ALLOW_OVERLAPPING
    or DESTROY_ALL is set; the NMError then names the device."""
    return run_lean(
        lambda bus: checkpoint_create_async(bus, devices, timeout_s, flags), bus_address
    )


async def checkpoint_rollback_async(bus: LeanBus, checkpoint: str) -> dict[str, RollbackResult]:
    names = await _device_names(bus)
    (results,) = await bus.call(c.NM_PATH, c.IFACE, "CheckpointRollback", "o", [checkpoint])
    return {names.get(str(p), str(p)): RollbackResult(int(r)) for p, r in results.items()}


def checkpoint_rollback(
    checkpoint: str, *, bus_address: str | None = None
) -> dict[str, RollbackResult]:
    """Restore the checkpoint now (it is destroyed afterwards). Returns the result per device
    (interface name, or the device's old object path when it no longer exists)."""
    return run_lean(lambda bus: checkpoint_rollback_async(bus, checkpoint), bus_address)


async def checkpoint_destroy_async(bus: LeanBus, checkpoint: str) -> None:
    await bus.call(c.NM_PATH, c.IFACE, "CheckpointDestroy", "o", [checkpoint])


def checkpoint_destroy(checkpoint: str = c.NO_OBJECT, *, bus_address: str | None = None) -> None:
    """Keep the current state and forget the checkpoint ("/" destroys all checkpoints)."""
    run_lean(lambda bus: checkpoint_destroy_async(bus, checkpoint), bus_address)


async def checkpoint_adjust_async(bus: LeanBus, checkpoint: str, timeout_s: int) -> None:
    await bus.call(
        c.NM_PATH, c.IFACE, "CheckpointAdjustRollbackTimeout", "ou", [checkpoint, int(timeout_s)]
    )


def checkpoint_adjust(checkpoint: str, timeout_s: int, *, bus_address: str | None = None) -> None:
    """Re-arm: the rollback now happens timeout_s from now (0 disables it). NM >= 1.12."""
    run_lean(lambda bus: checkpoint_adjust_async(bus, checkpoint, timeout_s), bus_address)


async def checkpoint_paths_async(bus: LeanBus) -> tuple[str, ...]:
    return tuple(str(path) for path in await bus.get(c.NM_PATH, c.IFACE, "Checkpoints"))


def checkpoint_paths(*, bus_address: str | None = None) -> tuple[str, ...]:
    """The checkpoints NetworkManager holds: one property, where a snapshot reads everything
    (the runner asks twice a second while it waits for the confirmation, on a box that is
    starting the confirming agent meanwhile)."""
    return run_lean(checkpoint_paths_async, bus_address)


# -- profiles ------------------------------------------------------------------------------


async def add_connection_async(
    bus: LeanBus, settings: Settings, to_disk: bool, block_autoconnect: bool = False
) -> str:
    flags = AddFlag.TO_DISK if to_disk else AddFlag.IN_MEMORY
    if block_autoconnect:
        flags |= AddFlag.BLOCK_AUTOCONNECT
    path, _result = await bus.call(
        c.SETTINGS_PATH,
        c.IFACE_SETTINGS,
        "AddConnection2",
        "a{sa{sv}}ua{sv}",
        [settings_to_dbus(settings), int(flags), {}],
    )
    uuid = settings.get("connection", {}).get("uuid")
    if uuid:
        return str(uuid)
    return await _uuid_of(bus, str(path))


async def _uuid_of(bus: LeanBus, path: str) -> str:
    (raw,) = await bus.call(path, c.IFACE_CONNECTION, "GetSettings")
    return str(unwrap(raw)["connection"]["uuid"])


def add_connection(
    settings: Settings,
    *,
    to_disk: bool,
    block_autoconnect: bool = False,
    bus_address: str | None = None,
) -> str:
    """AddConnection2 with JSON-typed settings (snapshot shape). In memory (to_disk=False) the
    profile lives under /run and vanishes at reboot. Returns the profile's UUID."""
    return run_lean(
        lambda bus: add_connection_async(bus, settings, to_disk, block_autoconnect), bus_address
    )


async def update_connection_async(
    bus: LeanBus, uuid: str, settings: Settings | None, flags: int
) -> None:
    path = await connection_path(bus, uuid)
    body = settings_to_dbus(settings) if settings else {}
    await bus.call(path, c.IFACE_CONNECTION, "Update2", "a{sa{sv}}ua{sv}", [body, int(flags), {}])


def update_connection(
    uuid: str,
    settings: Settings | None,
    *,
    to_disk: bool,
    block_autoconnect: bool = False,
    no_reapply: bool = False,
    extra_flags: int = 0,
    bus_address: str | None = None,
) -> None:
    """Update2: replace ALL of the profile's settings (not a merge), or with settings=None keep
    them and only move storage, e.g. persist an in-memory profile with to_disk=True.
    to_disk=False keeps any file on disk as it is and changes the profile in memory only."""
    flags = UpdateFlag.TO_DISK if to_disk else UpdateFlag.IN_MEMORY
    if block_autoconnect:
        flags |= UpdateFlag.BLOCK_AUTOCONNECT
    if no_reapply:
        flags |= UpdateFlag.NO_REAPPLY
    flags |= extra_flags
    run_lean(lambda bus: update_connection_async(bus, uuid, settings, flags), bus_address)


async def delete_connection_async(bus: LeanBus, uuid: str) -> None:
    await bus.call(await connection_path(bus, uuid), c.IFACE_CONNECTION, "Delete")


def delete_connection(uuid: str, *, bus_address: str | None = None) -> None:
    run_lean(lambda bus: delete_connection_async(bus, uuid), bus_address)


# GetConnectionByUuid's answer for a UUID NetworkManager has no profile of.
_NO_SUCH_CONNECTION = f"{c.IFACE_SETTINGS}.InvalidConnection"


async def delete_connections_async(bus: LeanBus, uuids: Sequence[str]) -> None:
    failed: NMError | None = None
    for uuid in uuids:
        try:
            await delete_connection_async(bus, uuid)
        except NMError as exc:
            if exc.name != _NO_SUCH_CONNECTION and failed is None:
                failed = exc  # the others are still tried
    if failed is not None:
        raise failed


def delete_connections(uuids: Sequence[str], *, bus_address: str | None = None) -> None:
    """Each of these profiles that exists, on one connection to the bus (a connection costs
    the emulated lab box up to 0.8 s); one already gone is no error."""
    run_lean(lambda bus: delete_connections_async(bus, uuids), bus_address)


async def get_settings_async(
    bus: LeanBus, uuid: str, include_secrets: bool = False
) -> dict[str, dict[str, Any]]:
    path = await connection_path(bus, uuid)
    (raw,) = await bus.call(path, c.IFACE_CONNECTION, "GetSettings")
    settings: dict[str, dict[str, Any]] = unwrap(raw)
    if include_secrets:
        for name in c.SECRET_SETTINGS:
            if name in settings:
                (secrets,) = await bus.call(path, c.IFACE_CONNECTION, "GetSecrets", "s", [name])
                settings = merge_secrets(settings, unwrap(secrets))
    return normalise_settings(settings)


def get_settings(
    uuid: str, *, include_secrets: bool = False, bus_address: str | None = None
) -> dict[str, dict[str, Any]]:
    """One profile's settings, JSON-typed; with secrets (root only) for backups."""
    return run_lean(lambda bus: get_settings_async(bus, uuid, include_secrets), bus_address)


async def reload_connections_async(bus: LeanBus) -> bool:
    (ok,) = await bus.call(c.SETTINGS_PATH, c.IFACE_SETTINGS, "ReloadConnections")
    return bool(ok)


def reload_connections(*, bus_address: str | None = None) -> bool:
    """Make NetworkManager re-read profile files from disk (after restoring a keyfile)."""
    return run_lean(reload_connections_async, bus_address)


# -- activation ----------------------------------------------------------------------------


async def activate_async(bus: LeanBus, uuid: str, device: str | None = None) -> str:
    conn = await connection_path(bus, uuid)
    dev = await device_path(bus, device) if device else c.NO_OBJECT
    (active,) = await bus.call(
        c.NM_PATH, c.IFACE, "ActivateConnection", "ooo", [conn, dev, c.NO_OBJECT]
    )
    return str(active)


def activate(uuid: str, device: str | None = None, *, bus_address: str | None = None) -> str:
    """Start activating the profile (on `device`, an interface name, if given). Returns the
    active connection's path at once; activation goes on (watch its state)."""
    return run_lean(lambda bus: activate_async(bus, uuid, device), bus_address)


async def active_path_async(bus: LeanBus, uuid: str) -> str | None:
    for path in await bus.get(c.NM_PATH, c.IFACE, "ActiveConnections"):
        try:
            found = await bus.get(str(path), c.IFACE_ACTIVE, "Uuid")
        except NMError:
            # It went away between the listing and this look (undo moves the ports back to
            # their old profiles just before it takes the bond down): not the one we seek.
            continue
        if found == uuid:
            return str(path)
    return None


async def deactivate_async(bus: LeanBus, active: str) -> None:
    path = active if active.startswith("/") else await active_path_async(bus, active)
    if path is None:
        return  # not active: nothing to take down
    await bus.call(c.NM_PATH, c.IFACE, "DeactivateConnection", "o", [path])


def deactivate(active: str, *, bus_address: str | None = None) -> None:
    """Take an active connection down: its object path, or the UUID of an active profile
    (no-op when that profile is not active)."""
    run_lean(lambda bus: deactivate_async(bus, active), bus_address)


async def active_state_async(bus: LeanBus, active_path: str) -> str:
    return c.active_state_name(int(await bus.get(active_path, c.IFACE_ACTIVE, "State")))


def active_state(active_path: str, *, bus_address: str | None = None) -> str:
    """activating / activated / deactivating / deactivated ("unknown" once it is gone)."""

    async def work(bus: LeanBus) -> str:
        try:
            return await active_state_async(bus, active_path)
        except NMError:
            return "unknown"

    return run_lean(work, bus_address)


async def disconnect_device_async(bus: LeanBus, interface: str) -> None:
    await bus.call(await device_path(bus, interface), c.IFACE_DEVICE, "Disconnect")


def disconnect_device(interface: str, *, bus_address: str | None = None) -> None:
    """Deactivate whatever is on the device and keep it from autoconnecting until asked."""
    run_lean(lambda bus: disconnect_device_async(bus, interface), bus_address)


async def delete_device_async(bus: LeanBus, interface: str) -> None:
    await bus.call(await device_path(bus, interface), c.IFACE_DEVICE, "Delete")


def delete_device(interface: str, *, bus_address: str | None = None) -> None:
    """Remove a software device (a bond) from NetworkManager and from the kernel."""
    run_lean(lambda bus: delete_device_async(bus, interface), bus_address)
