"""When is a change certainly broken, before the verification window ends? Pure.

Verification follows NetworkManager's device state changes for the bond and its ports
(DeviceEvent, fed by the backend) and reads snapshots; a Tripwire turns them into the one
sentence that names the cause and the fix, or None while waiting may still help.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tightrope.core.model import BondConfig
from tightrope.core.snapshot import Snapshot


@dataclass(frozen=True)
class DeviceEvent:
    """One of NetworkManager's signals about a device we follow, in plain values."""

    interface: str
    new: str = ""  # for a state change: NM_DEVICE_STATE_* as a name (need-auth, failed...)
    old: str = ""
    reason: str = ""  # NM_DEVICE_STATE_REASON_* as a name (no-secrets, ssid-not-found...)
    scan_done: bool = False  # a Wi-Fi scan finished (the device's LastScan moved)


def psk_refused(ssid: str, iface: str) -> str:
    return f"the access point {ssid!r} refused the PSK for {iface}; check the passphrase"


def ssid_absent(ssid: str, iface: str) -> str:
    return f"no access point {ssid!r} in range of {iface} (not in its scan results); check the SSID"


def gateway_silent(gateway: str, bond: str) -> str:
    return f"no ARP reply from {gateway} on {bond}: wrong gateway or wrong subnet?"


def address_in_use(addresses: Iterable[str]) -> str:
    shown = " or ".join(addresses)
    return (
        f"{shown} is already in use on the LAN (another machine answered ARP for it); "
        "choose a free address"
    )


# Reasons a Wi-Fi port fails with that mean its PSK was refused. NetworkManager reports a
# 4-way handshake cut short as supplicant-disconnect and then asks secret agents for a new
# PSK; a headless box has none, so the device fails with no-secrets a moment later.
PSK_REASONS = frozenset({"no-secrets", "supplicant-disconnect"})
# Device states of a port whose activation (ours: we activate right after subscribing) is on
# its way but has not associated yet.
_ACTIVATING = frozenset({"prepare", "config", "need-auth", "ip-config", "ip-check"})
# The bond failing on its IP configuration: with a static address, dad-timeout set and
# may-fail off (core.profiles), the only way there is NetworkManager's ARP probe finding the
# address taken. NetworkManager 1.42 says ip-config-unavailable; ip-address-duplicate is the
# reason code meant for it.
_DUPLICATE_REASONS = frozenset({"ip-config-unavailable", "ip-address-duplicate"})


@dataclass
class Tripwire:
    config: BondConfig
    activating: set[str] = field(default_factory=set)
    scanned: set[str] = field(default_factory=set)  # Wi-Fi ports that scanned while activating

    def event(self, ev: DeviceEvent) -> str | None:
        """A verdict from one signal, or None. Remembers what the next snapshot needs."""
        cfg = self.config
        wifi = {p.interface: p.ssid or "" for p in cfg.wifi_ports}
        if ev.interface in wifi:
            ssid = wifi[ev.interface]
            if ev.scan_done:
                if ev.interface in self.activating:
                    self.scanned.add(ev.interface)
                return None
            if ev.new in _ACTIVATING:
                self.activating.add(ev.interface)
            elif ev.new == "activated":
                self.activating.discard(ev.interface)
                self.scanned.discard(ev.interface)
            # NetworkManager asking for new secrets is its own verdict on the PSK: the
            # transaction has no other PSK to give.
            if ev.new == "need-auth" or (ev.new == "failed" and ev.reason in PSK_REASONS):
                return psk_refused(ssid, ev.interface)
            if ev.new == "failed" and ev.reason == "ssid-not-found":
                return ssid_absent(ssid, ev.interface)
            return None
        static = cfg.ipv4.addresses
        if ev.interface == cfg.name and ev.new == "failed" and ev.reason in _DUPLICATE_REASONS:
            # A DHCP client declines a taken lease and asks again; only a static one is final.
            return address_in_use(str(a.ip) for a in static) if static else None
        return None

    def snapshot(self, snap: Snapshot) -> str | None:
        """A verdict from a snapshot: what polling alone can tell (a reason the device still
        shows), and an SSID missing from a scan made while the port was trying to join."""
        for port in self.config.wifi_ports:
            dev = snap.device(port.interface)
            if dev is None:
                continue
            ssid = port.ssid or ""
            joined = dev.controller == self.config.name and dev.state == "activated"
            if dev.state == "need-auth" or (
                dev.state in ("failed", "disconnected") and dev.state_reason == "no-secrets"
            ):
                return psk_refused(ssid, port.interface)
            if dev.state_reason == "ssid-not-found" and not joined:
                return ssid_absent(ssid, port.interface)
            if port.interface in self.scanned and not joined:
                seen = {ap.ssid for ap in snap.access_points if ap.seen_by == port.interface}
                if ssid not in seen:
                    return ssid_absent(ssid, port.interface)
        return None


def bond_ready_for_arp(config: BondConfig, snap: Snapshot) -> bool:
    """The bond has its address(es) and an active port: an ARP probe through it means
    something (NetworkManager configures a static address only after its own probe)."""
    bond = snap.device(config.name)
    if bond is None or bond.bond is None or not bond.bond.active_port:
        return False
    have = {a.split("/")[0] for a in bond.ip4_addresses}
    if config.ipv4.addresses:
        return all(str(a.ip) in have for a in config.ipv4.addresses)
    return bool(have)
