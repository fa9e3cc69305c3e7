"""An in-memory box for the transaction engine's logic tests (injected, not patched).

It models just enough of NetworkManager to tell a right sequence of calls from a wrong one:
profiles with storage, activation onto devices, and a checkpoint that restores on rollback.
What NetworkManager really does is proven in the VM lab, not here.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from tightrope.core.failfast import DeviceEvent
from tightrope.core.snapshot import (
    BondPortRuntime,
    BondRuntime,
    Checkpoint,
    Device,
    Profile,
    Snapshot,
)
from tightrope.errors import TightropeError
from tightrope.txn.backend import DependencyNotReady


class FakeClock:
    """Wall and boot clocks that move together on sleep; `jump` moves the wall clock alone,
    as NTP does on a box without an RTC."""

    def __init__(self) -> None:
        self.t = 1_000_000.0
        self.boot = 500.0
        self.on_sleep: list[Callable[[float], None]] = []

    def now(self) -> float:
        return self.t

    def mono(self) -> float:
        return self.boot

    def jump(self, seconds: float) -> None:
        self.t += seconds

    def sleep(self, seconds: float) -> None:
        self.t += seconds
        self.boot += seconds
        for hook in list(self.on_sleep):
            hook(self.t)


class FakeEvents:
    """The signals a test scripts: whatever was emitted since the last drain()."""

    def __init__(self, box: FakeBox, interfaces: Sequence[str]) -> None:
        self.box, self.wanted, self.closed = box, set(interfaces), False
        self.pending: list[DeviceEvent] = []

    def drain(self) -> list[DeviceEvent]:
        out, self.pending = self.pending, []
        return out

    def close(self) -> None:
        self.closed = True


RUN = "/run/NetworkManager/system-connections"


class FakeBox:
    def __init__(self, start: Snapshot) -> None:
        self.start = start
        self.profiles: dict[str, Profile] = {p.uuid: p for p in start.profiles}
        self.devices: dict[str, Device] = {d.interface: d for d in start.devices}
        self.files: dict[str, bytes] = {p: t.encode() for p, t in start.netplan_files.items()}
        self.checkpoint: tuple[str, dict[str, Any]] | None = None
        self.calls: list[str] = []
        self.wifi_failure: str | None = None  # a state reason, e.g. "no-secrets"
        # Where our Wi-Fi port ends up instead of the bond: "fallback" (NetworkManager back
        # on the old profile, no reason left to see) or "config" (still looking for the AP).
        self.wifi_instead: str | None = None
        self.gateway_answers = True
        self.gateway_answers_arp: bool | None = True  # None: the box cannot tell
        self.arp_probes: list[tuple[str, str]] = []
        self.pings: list[str] = []  # the gateway pings asked for
        self.arp_answer: Callable[[], bool | None] | None = None  # per probe, if set
        self.dad_probes: list[tuple[str, str]] = []
        self.taken: set[str] = set()  # addresses another machine on the LAN has
        # Signals NetworkManager sends when a device is activated, by interface.
        self.on_activate: dict[str, list[DeviceEvent]] = {}
        # Activations of a Wi-Fi port that fail (their signals; the port is then left
        # disconnected with the last signal's reason), one list per try, before it joins.
        self.failed_tries: dict[str, list[list[DeviceEvent]]] = {}
        # Activations of a port that NetworkManager never attaches to the bond (it waits in
        # ip-config for good), by interface, before one that joins.
        self.stuck_tries: dict[str, int] = {}
        self.streams: list[FakeEvents] = []
        self.generated = 0
        # Port activations refused as NetworkManager does while the new bond is not ready.
        self.bond_not_ready = 0
        self.netplan_complaint: str | None = None  # what netplan_check answers
        # Profiles NetworkManager may not start by itself until they are activated by hand.
        self.blocked: set[str] = set()
        self.ever_blocked: list[str] = []

    # -- Backend ---------------------------------------------------------------------------
    def snapshot(self, *, include_secrets: bool = False) -> Snapshot:
        cps = ()
        if self.checkpoint:
            cps = (Checkpoint(self.checkpoint[0], tuple(self.checkpoint[1]["devices"]), 0, 30),)
        return replace(self.start, profiles=tuple(self.profiles.values()),
                       devices=tuple(self.devices.values()), checkpoints=cps,
                       netplan_files={p: b.decode() for p, b in self.files.items()})

    def checkpoint_create(self, devices: Sequence[str], timeout_s: int) -> str:
        self.calls.append("checkpoint_create")
        if self.checkpoint:
            raise TightropeError("overlapping checkpoint")
        saved = {"devices": list(devices), "profiles": copy.deepcopy(self.profiles),
                 "devs": copy.deepcopy(self.devices)}
        self.checkpoint = ("/cp/1", saved)
        return "/cp/1"

    def checkpoint_adjust(self, checkpoint: str, timeout_s: int) -> None:
        pass

    def checkpoint_rollback(self, checkpoint: str) -> None:
        self.calls.append("checkpoint_rollback")
        assert self.checkpoint and self.checkpoint[0] == checkpoint
        saved = self.checkpoint[1]
        self.profiles = saved["profiles"]
        self.devices = saved["devs"]
        self.checkpoint = None

    def checkpoint_destroy(self, checkpoint: str) -> None:
        self.calls.append("checkpoint_destroy")
        self.checkpoint = None

    def checkpoint_exists(self, checkpoint: str) -> bool:
        return self.checkpoint is not None and self.checkpoint[0] == checkpoint

    def add_profile(self, settings: Mapping[str, Mapping[str, Any]], *, to_disk: bool,
                    block_autoconnect: bool = False) -> str:
        con = settings["connection"]
        if block_autoconnect:
            self.blocked.add(str(con["uuid"]))
            self.ever_blocked.append(str(con["uuid"]))
        self.calls.append(f"add {con['id']} {'disk' if to_disk else 'memory'}")
        self.profiles[con["uuid"]] = Profile(
            con["uuid"], con["id"], con["type"], con.get("interface-name"),
            "" if not to_disk else f"/etc/NetworkManager/system-connections/{con['id']}",
            0 if to_disk else 1, copy.deepcopy(dict(settings)))
        return str(con["uuid"])

    def update_profile(self, uuid: str, settings: Any, *, to_disk: bool,
                       block_autoconnect: bool = False) -> None:
        if block_autoconnect:
            self.blocked.add(uuid)
            self.ever_blocked.append(uuid)
        self.calls.append(f"update {self.profiles[uuid].id} {'disk' if to_disk else 'memory'}")
        p = self.profiles[uuid]
        if settings is not None:
            p = replace(p, settings=copy.deepcopy(dict(settings)))
        if to_disk:
            p = replace(p, flags=0, filename=p.filename or
                        f"/etc/NetworkManager/system-connections/{p.id}")
        self.profiles[uuid] = p

    def delete_profile(self, uuid: str) -> None:
        if uuid not in self.profiles:  # as NetworkManager's GetConnectionByUuid
            raise TightropeError(f"No connection with the UUID '{uuid}' was found.")
        self.calls.append(f"delete {self.profiles[uuid].id}")
        del self.profiles[uuid]

    def delete_profiles(self, uuids: Sequence[str]) -> None:
        for uuid in uuids:
            if uuid in self.profiles:
                self.delete_profile(uuid)

    def delete_device(self, interface: str) -> None:
        self.calls.append(f"delete device {interface}")
        dev = self.devices.pop(interface)
        assert dev.type == "bond", "NetworkManager deletes software devices only"
        for name, port in list(self.devices.items()):
            if port.controller == interface:
                self.devices[name] = replace(port, controller=None, state="disconnected",
                                             active_profile=None)

    def device_events(self, interfaces: Sequence[str]) -> FakeEvents:
        self.calls.append("device_events")
        stream = FakeEvents(self, interfaces)
        self.streams.append(stream)
        return stream

    def emit(self, *events: DeviceEvent) -> None:
        for stream in self.streams:
            if not stream.closed:
                stream.pending += [e for e in events if e.interface in stream.wanted]

    def activate(self, uuid: str, device: str | None = None) -> None:
        p = self.profiles[uuid]
        self.calls.append(f"activate {p.id}")
        self.blocked.discard(uuid)  # as NetworkManager: activating by hand unblocks
        iface = device or p.interface
        assert iface
        if p.type != "bond" and self.bond_not_ready > 0:
            self.bond_not_ready -= 1
            raise DependencyNotReady(
                "NetworkManager.ActivateConnection failed: Controller device 'bond0' can't be "
                "activated: Device unmanaged or not available for activation",
                "org.freedesktop.NetworkManager.DependencyFailed")
        self.emit(*self.on_activate.get(iface, ()))
        if p.type == "bond":
            self.devices[iface] = Device(
                iface, "bond", "activated", True, mac="52:54:00:12:34:56", active_profile=uuid,
                ip4_addresses=tuple(f"{a['address']}/{a['prefix']}"
                                    for a in p.settings["ipv4"].get("address-data", [])),
                ip4_gateway=p.settings["ipv4"].get("gateway"),
                bond=BondRuntime("active-backup", "up", 100, None, None, ()),
            )
            return
        dev = self.devices[iface]
        if self.stuck_tries.get(iface):
            self.stuck_tries[iface] -= 1
            self.devices[iface] = replace(dev, state="ip-config", controller="bond0",
                                          state_reason="none", active_profile=uuid)
            return
        failed_try = self.failed_tries.get(iface) and self.failed_tries[iface].pop(0)
        if failed_try:
            self.emit(*failed_try)
        if failed_try:
            self.devices[iface] = replace(dev, state="disconnected", controller=None,
                                          state_reason=failed_try[-1].reason, active_profile=None)
            return
        if p.type == "802-11-wireless" and self.wifi_instead == "fallback":
            old = self.start.device(iface)
            self.devices[iface] = replace(dev, state="activated", controller=None,
                                          state_reason="none",
                                          active_profile=old.active_profile if old else None)
            return
        if p.type == "802-11-wireless" and self.wifi_instead == "config":
            self.devices[iface] = replace(dev, state="config", controller=None,
                                          state_reason="none", active_profile=uuid, ssid=None)
            return
        if p.type == "802-11-wireless" and self.wifi_failure:
            self.devices[iface] = replace(dev, state="disconnected", controller=None,
                                          state_reason=self.wifi_failure, active_profile=None)
            return
        if not p.settings.get("connection", {}).get("master"):
            start = self.start.device(iface)
            self.devices[iface] = replace(dev, state="activated", active_profile=uuid,
                                          controller=None,
                                          ip4_addresses=start.ip4_addresses if start else ())
            return
        bond_iface = "bond0"
        self.devices[iface] = replace(dev, state="activated", active_profile=uuid,
                                      controller=bond_iface, ip4_addresses=())
        bond = self.devices[bond_iface]
        assert bond.bond is not None
        ports = (*bond.bond.ports, BondPortRuntime(iface, "up", None, 0, dev.permanent_mac))
        active = bond.bond.active_port or iface
        if iface == "eth0":
            active = "eth0"
        self.devices[bond_iface] = replace(bond, bond=replace(bond.bond, ports=ports,
                                                                active_port=active))

    def deactivate(self, uuid: str) -> None:
        self.calls.append(f"deactivate {self.profiles[uuid].id}")
        for name, dev in list(self.devices.items()):
            if dev.active_profile == uuid:
                if dev.type == "bond":
                    del self.devices[name]
                else:
                    self.devices[name] = replace(dev, active_profile=None, state="disconnected",
                                                 controller=None)

    def reload_profiles(self) -> None:
        """As NetworkManager re-reading what netplan generate rendered: a netplan-* profile
        whose interface no YAML defines any more goes; a profile whose UUID a YAML file
        names is now rendered by netplan (its in-memory copy taken over)."""
        self.calls.append("reload")
        text = "\n".join(b.decode() for p, b in self.files.items() if p.startswith("/etc/netplan/"))
        for uuid, p in list(self.profiles.items()):
            if uuid in text:
                rendered = f"{RUN}/netplan-{p.id}.nmconnection"
                self.profiles[uuid] = replace(p, flags=0, filename=rendered)
            elif "/netplan-" in p.filename and p.interface and not re.search(
                rf"^\s+{p.interface}:", text, re.M
            ):
                del self.profiles[uuid]

    # -- System ----------------------------------------------------------------------------
    def read_bytes(self, path: str) -> bytes | None:
        if path in self.files:
            return self.files[path]
        p = next((p for p in self.profiles.values() if p.filename == path), None)
        return f"[connection]\nid={p.id}\n".encode() if p else None

    def write_bytes(self, path: str, data: bytes, mode: int = 0o600) -> None:
        self.calls.append(f"write {path}")
        self.files[path] = data

    def remove(self, path: str) -> None:
        self.files.pop(path, None)

    def ping(self, address: str, interface: str | None = None, count: int = 1) -> bool:
        self.pings.append(address)
        return self.gateway_answers

    def arp_probe(self, address: str, interface: str) -> bool | None:
        self.arp_probes.append((address, interface))
        return self.arp_answer() if self.arp_answer else self.gateway_answers_arp

    def address_taken(self, address: str, interface: str) -> bool | None:
        self.dad_probes.append((address, interface))
        return address in self.taken

    def netplan_generate(self) -> bool:
        self.generated += 1
        return True

    def netplan_check(self, files: Mapping[str, bytes], bond: str) -> str | None:
        self.calls.append("netplan_check " + " ".join(files))
        return self.netplan_complaint

    def sync(self) -> None:
        self.calls.append("sync")

    def boot_id(self) -> str:
        return "boot-1"
