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


def gateway_silent(gateway: str, bond: str, arp_targets: Iterable[str] = ()) -> str:
    """arp_targets: the bond's ARP monitor targets when they are not just the gateway (its
    ports stay down while they are silent, and then nothing goes out to the gateway either)."""
    others = [t for t in arp_targets if t != gateway]
    if not others:
        return f"no ARP reply from {gateway} on {bond}: wrong gateway or wrong subnet?"
    return (f"no ARP reply from {gateway} on {bond}: wrong gateway, wrong subnet, or ARP "
            f"targets ({', '.join(arp_targets)}) that do not answer?")  # fmt: skip


def address_in_use(addresses: Iterable[str]) -> str:
    shown = " or ".join(addresses)
    return (
        f"{shown} is already in use on the LAN (another machine answered ARP for it); "
        "choose a free address"
    )


def wifi_failed(ssid: str, iface: str, reason: str, tries: int) -> str:
    in_tries = f" in {tries} tries" if tries > 1 else ""
    return (f"{iface} could not join {ssid!r}{in_tries} (NetworkManager: "
            f"{reason or 'no reason given'}); check the access point and the signal")  # fmt: skip


# NetworkManager passes every Wi-Fi activation with a PSK through need-auth (reason none)
# while it fetches the stored secret, so need-auth alone means nothing. It asks for a *new*
# PSK when the 4-way handshake was cut short: need-auth with supplicant-disconnect; a
# headless box has no secret agent to answer, so the port fails with no-secrets right after.
# Only the polling fallback reads the pair from a snapshot: with signals, the failure counts
# as one attempt (below).
def _psk_refused(state: str, reason: str) -> bool:
    return (state == "need-auth" and reason == "supplicant-disconnect") or (
        state in ("failed", "disconnected") and reason == "no-secrets"
    )


# One failed attempt to join is no verdict. Our port profile is new to NetworkManager, so
# *any* disconnect during its first handshake (a lost EAPOL frame, an AP busy for a moment)
# reads as a refused PSK (wifi_connection_is_new() in nm-device-wifi.c): a profile that had
# ever connected would be retried instead. And an association that times out (25 s) fails
# the port with ssid-not-found or no-secrets although the AP is there. Both were seen in the
# lab on a good change, and rolled it back. A wrong PSK or a missing AP fails every attempt,
# so the verdict waits for the second (the verify step asks NetworkManager again).
WIFI_ATTEMPTS = 2


@dataclass(frozen=True)
class Rejoin:
    """A Wi-Fi port failed an attempt that may have been bad luck: activate it again, if the
    window leaves room for a second try (else `verdict` is the answer)."""

    interface: str
    why: str
    verdict: str  # what the failure says if there is no second try


# A Wi-Fi port's scans count from the moment it enters config, when NetworkManager hands the
# network to wpa_supplicant, which then scans for that very SSID (NetworkManager always sets
# scan_ssid=1, so even a hidden AP answers). A scan that "ended" is not always one that
# listened: LastScan also moves when the supplicant aborts a scan, and a port whose link went
# down to join the bond has had its scan table flushed. CI saw a good change rolled back as
# "not in its scan results" after one such scan (TCG, the rpios world, the AP in range).
# So the verdict wants two scans since config, and a radio that heard some AP (an empty list
# proves nothing; NetworkManager's own ssid-not-found, 25 s per attempt, still ends it).
# Near a hidden AP one more: the first may have begun before the supplicant probed for the
# SSID, with broadcast probes, which a hidden AP answers without its name.
SCANS_FOR_ABSENT_SSID = 2
SCANS_FOR_ABSENT_SSID_NEAR_HIDDEN_AP = 3
# The bond failing on its IP configuration: with a static address, dad-timeout set and
# may-fail off (core.profiles), the only way there is NetworkManager's ARP probe finding the
# address taken. NetworkManager 1.42 says ip-config-unavailable; ip-address-duplicate is the
# reason code meant for it.
_DUPLICATE_REASONS = frozenset({"ip-config-unavailable", "ip-address-duplicate"})


@dataclass
class Tripwire:
    config: BondConfig
    # False when verification only polls: then a snapshot's failure reason is all there is.
    signals: bool = True
    # Wi-Fi port -> scans ended since it entered config (absent: not trying to join)
    scans: dict[str, int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)  # Wi-Fi port -> failed attempts
    handshake_cut: set[str] = field(default_factory=set)  # ... whose handshake failed

    def event(self, ev: DeviceEvent) -> str | Rejoin | None:
        """A verdict from one signal, a port to activate again, or None. Remembers what the
        next snapshot needs."""
        cfg = self.config
        wifi = {p.interface: p.ssid or "" for p in cfg.wifi_ports}
        if ev.interface in wifi:
            return self._wifi_event(ev, wifi[ev.interface])
        static = cfg.ipv4.addresses
        if ev.interface == cfg.name and ev.new == "failed" and ev.reason in _DUPLICATE_REASONS:
            # A DHCP client declines a taken lease and asks again; only a static one is final.
            return address_in_use(str(a.ip) for a in static) if static else None
        return None

    def _wifi_event(self, ev: DeviceEvent, ssid: str) -> str | Rejoin | None:
        iface = ev.interface
        if ev.scan_done:
            if iface in self.scans:
                self.scans[iface] += 1
            return None
        if ev.new == "config":
            self.scans[iface] = 0
        elif ev.new not in ("need-auth", "ip-config", "ip-check"):
            self.scans.pop(iface, None)  # associated, or starting over
        if ev.new == "need-auth" and ev.reason == "supplicant-disconnect":
            self.handshake_cut.add(iface)
        if ev.new != "failed":
            return None
        self.failures[iface] = self.failures.get(iface, 0) + 1
        verdict = self._verdict(ev, ssid)
        if self.failures[iface] < WIFI_ATTEMPTS:
            said = ev.reason or "no reason given"
            return Rejoin(iface, f"{iface} failed to join {ssid!r} (NetworkManager: {said})",
                          verdict)  # fmt: skip
        return verdict

    def _verdict(self, ev: DeviceEvent, ssid: str) -> str:
        iface = ev.interface
        if ev.reason == "ssid-not-found":
            return ssid_absent(ssid, iface)
        # NetworkManager may have dropped the refused PSK from the second attempt, which then
        # fails with no-secrets before any handshake: the first refusal still names the cause.
        if iface in self.handshake_cut and ev.reason == "no-secrets":
            return psk_refused(ssid, iface)
        return wifi_failed(ssid, iface, ev.reason, self.failures.get(iface, 1))

    def snapshot(self, snap: Snapshot) -> str | None:
        """A verdict from a snapshot: what polling alone can tell (a reason the device still
        shows, when there are no signals), and an SSID missing from a scan made while the
        port was trying to join."""
        for port in self.config.wifi_ports:
            dev = snap.device(port.interface)
            if dev is None:
                continue
            ssid = port.ssid or ""
            joined = dev.controller == self.config.name and dev.state == "activated"
            if not self.signals:
                if _psk_refused(dev.state, dev.state_reason or ""):
                    return psk_refused(ssid, port.interface)
                if dev.state_reason == "ssid-not-found" and not joined:
                    return ssid_absent(ssid, port.interface)
            seen = {ap.ssid for ap in snap.access_points if ap.seen_by == port.interface}
            hidden_near = any(not name.strip("\0") for name in seen)
            need = SCANS_FOR_ABSENT_SSID_NEAR_HIDDEN_AP if hidden_near else SCANS_FOR_ABSENT_SSID
            listened = self.scans.get(port.interface, 0) >= need and bool(seen)
            if listened and not joined and ssid not in seen:
                return ssid_absent(ssid, port.interface)
        return None


# NetworkManager attaches a port to its bond at two moments only: as the port enters
# ip-config (if the bond is configuring by then) and in the bond's own stage 2. A port that
# missed both waits in ip-config for good: 1.42 has no timeout for "waiting for the master to
# enslave us" (nm-device.c, _dev_ip_state_check). CI saw wlan0 sit there through the whole
# 60 s window of a good change (2026-12-07). A port's own ip-config lasts a moment (it has
# no addresses); this long means it was missed, and a new activation of its profile re-arms
# both moments.
PORT_STALL_S = 15.0


@dataclass
class StallWatch:
    """Ports that have waited in ip-config too long for their bond, from the snapshots
    verification takes; each is named once. Only as the bond's port: a port back on its old
    profile may sit in ip-config for its DHCP lease, which is no stall of ours."""

    bond: str
    ports: tuple[str, ...]
    since: dict[str, float] = field(default_factory=dict)  # port -> first seen in ip-config
    named: set[str] = field(default_factory=set)

    def look(self, snap: Snapshot, now: float) -> list[str]:
        stalled = []
        for iface in self.ports:
            dev = snap.device(iface)
            if dev is None or dev.state != "ip-config" or dev.controller != self.bond:
                self.since.pop(iface, None)
                continue
            since = self.since.setdefault(iface, now)
            if now - since >= PORT_STALL_S and iface not in self.named:
                self.named.add(iface)
                stalled.append(iface)
        return stalled


def port_stalled(iface: str, bond: str) -> str:
    return (f"{iface} waited {PORT_STALL_S:.0f} s in ip-config for {bond} to take it in "
            "(NetworkManager has no timeout for that)")


def bond_ready_for_arp(config: BondConfig, snap: Snapshot) -> bool:
    """The bond has its address(es) and a port that can carry a probe: an ARP probe through
    it means something (NetworkManager configures a static address only after its own
    probe). Under MII that port is the active one. Under the ARP monitor a silent target
    leaves no port active at all (each fails for want of replies; measured in the lab: the
    wrong gateway then went unnamed for 23 s), so a port in the bond with its link up is
    enough: with a target that answers, the monitor makes it active within a few intervals,
    well inside the probe's seconds."""
    bond = snap.device(config.name)
    if bond is None or not bond_carries(config, snap):
        return False
    have = {a.split("/")[0] for a in bond.ip4_addresses}
    if config.ipv4.addresses:
        return all(str(a.ip) in have for a in config.ipv4.addresses)
    return bool(have)


def bond_carries(config: BondConfig, snap: Snapshot) -> bool:
    """The bond has a port that carries frames (see bond_ready_for_arp), with or without
    its address: what a duplicate-address probe needs, sent from the MAC the bond has now."""
    bond = snap.device(config.name)
    if bond is None or bond.bond is None:
        return False
    return bool(bond.bond.active_port) or bool(config.arp and _port_with_link(config.name, snap))


def _port_with_link(bond: str, snap: Snapshot) -> bool:
    return any(d.controller == bond and d.state == "activated" and d.carrier
               for d in snap.devices)  # fmt: skip
