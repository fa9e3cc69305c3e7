"""What a careful admin wants to hear before the change. Pure: config + snapshot -> warnings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tightrope.core.discovery import Discovery
from tightrope.core.model import BondConfig
from tightrope.core.snapshot import Snapshot


@dataclass(frozen=True)
class Caution:
    code: str
    message: str
    severity: str = "warning"  # info, warning, danger


@dataclass(frozen=True)
class Probes:
    """Facts only a live probe on the box can give (filled by the agent, empty in unit tests)."""

    address_in_use: frozenset[str] = field(default_factory=frozenset)  # answered ARP for it


def warnings_for(
    config: BondConfig, snap: Snapshot, found: Discovery, changes: bool, probes: Probes
) -> tuple[Caution, ...]:
    out: list[Caution] = []
    add = out.append
    if config.mode == "active-backup" and not config.primary:
        add(
            Caution(
                "no-primary",
                "No primary port: after a failover the bond stays on the "
                "backup (e.g. Wi-Fi) even when the cable returns. Set parameters.primary.",
            )
        )
    if config.arp is None and config.mode == "active-backup" and len(config.ports) > 1:
        add(
            Caution(
                "link-only",
                "The bond watches the link only (MII): a path that dies with the link up (a "
                "switch that lost its uplink) is never noticed. Set parameters.arp-interval "
                "and arp-ip-targets (a host on the LAN that always answers) to watch the path.",
                "info",
            )
        )
    if config.ipv4.dhcp and config.fail_over_mac == "active" and not config.ipv4.dhcp_identifier:
        add(
            Caution(
                "dhcp-mac",
                "DHCP with fail-over-mac-policy active: the bond's MAC follows "
                "the active port, so the DHCP server may hand out another address after a "
                "failover. Set ipv4.dhcp-identifier: duid for a stable client-id.",
            )
        )
    for iface in found.missing:
        add(
            Caution(
                "port-missing",
                f"{iface} does not exist on this box; the bond will run without it.",
                "danger",
            )
        )
    for iface in found.unmanaged:
        add(
            Caution(
                "port-unmanaged",
                f"NetworkManager does not manage {iface}; it cannot "
                "become a port until it does (check NetworkManager.conf unmanaged-devices).",
                "danger",
            )
        )
    for iface in found.networkd:
        add(
            Caution(
                "networkd",
                f"systemd-networkd also manages {iface}; the two will fight "
                "over it. Remove it from networkd's configuration first.",
                "danger",
            )
        )
    _session(config, snap, changes, add)
    for address in sorted(probes.address_in_use):
        add(
            Caution(
                "address-in-use",
                f"Another host already answers ARP for {address}: two "
                "boxes would share it. Pick a free address.",
                "danger",
            )
        )
    _wifi(config, snap, changes, add)
    if snap.checkpoints:
        add(
            Caution(
                "checkpoint-leftover",
                f"{len(snap.checkpoints)} NetworkManager checkpoint(s) "
                "exist, perhaps from a crashed run; they block a new one on the same devices.",
            )
        )
    if any(c.origin == "netplan" for c in found.claims):
        add(
            Caution(
                "netplan",
                "Profiles come from netplan: deleting them by hand (as the nmcli "
                "recipe does) does not stop netplan recreating them at boot; tightrope "
                "edits the netplan definition at commit instead.",
                "info",
            )
        )
    return tuple(out)


def _session(
    config: BondConfig, snap: Snapshot, changes: bool, add: Callable[[Caution], None]
) -> None:
    server = snap.session.ssh_server
    if not server or not changes:
        return
    new = str(config.new_address) if config.new_address else None
    if new and server != new:
        add(
            Caution(
                "ssh-cut",
                f"Your SSH session to {server} will be cut when the address "
                f"moves; reconnect at {new} (ssh {new}) and run `tightrope confirm`.",
                "danger",
            )
        )
    elif new is None:
        add(
            Caution(
                "ssh-cut",
                f"Your SSH session to {server} will be cut and the bond takes a "
                "DHCP address: find it in your DHCP server's leases.",
                "danger",
            )
        )
    else:
        add(
            Caution(
                "ssh-blip",
                f"Your SSH session to {server} may stall for a few seconds "
                "while the ports move into the bond.",
                "info",
            )
        )


def _wifi(
    config: BondConfig, snap: Snapshot, changes: bool, add: Callable[[Caution], None]
) -> None:
    seen = {ap.ssid for ap in snap.access_points}
    for port in config.wifi_ports:
        if snap.access_points and port.ssid not in seen:
            add(
                Caution(
                    "ssid-not-seen",
                    f"SSID {port.ssid!r} is not in {port.interface}'s scan "
                    "results: check its spelling and that the access point is in range.",
                    "danger",
                )
            )
        if snap.wifi_powersave.get(port.interface):
            add(
                Caution(
                    "wifi-powersave",
                    f"Wi-Fi power saving is on for {port.interface}; the "
                    "new port profile turns it off, so failover does not wait for the "
                    "radio to wake.",
                    "info",
                )
            )
        if not changes:
            continue
        add(
            Caution(
                "wifi-reassociate",
                f"Enslaving {port.interface} drops its association; it re-associates "
                "within ~10 s. The change commits once another port carries the bond and "
                "says if it had not joined by then; --verify-all-ports waits for it.",
                "info",
            )
        )
