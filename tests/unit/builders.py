"""Plain-data builders for snapshots in unit tests (the lab captures real ones as fixtures)."""

from __future__ import annotations

from typing import Any

from tightrope.core.snapshot import Snapshot

ETH0_MAC = "52:54:00:12:34:56"
WLAN0_MAC = "02:00:00:00:00:00"


def netplan_start(**overrides: Any) -> Snapshot:
    """The seed's box: netplan-generated profiles for eth0 and wlan0, SSH over eth0."""
    data: dict[str, Any] = {
        "nm_version": "1.42.4",
        "hostname": "pi",
        "devices": [
            {"interface": "lo", "type": "loopback", "state": "unmanaged", "managed": False},
            {
                "interface": "eth0", "type": "ethernet", "state": "activated", "managed": True,
                "mac": ETH0_MAC, "permanent_mac": ETH0_MAC, "carrier": True,
                "driver": "virtio_net", "active_profile": "u-eth0",
                "ip4_addresses": ["198.18.1.50/24"], "ip4_gateway": "198.18.1.1",
            },
            {
                "interface": "wlan0", "type": "wifi", "state": "activated", "managed": True,
                "mac": WLAN0_MAC, "permanent_mac": WLAN0_MAC, "driver": "mac80211_hwsim",
                "active_profile": "u-wlan0", "ip4_addresses": ["198.18.1.51/24"],
                "ssid": "TightropeLab", "signal": 100,
            },
        ],
        "profiles": [
            {
                "uuid": "u-eth0", "id": "netplan-eth0", "type": "802-3-ethernet",
                "interface": "eth0", "flags": 0,
                "filename": "/run/NetworkManager/system-connections/netplan-eth0.nmconnection",
                "settings": {"connection": {"id": "netplan-eth0", "uuid": "u-eth0",
                                            "type": "802-3-ethernet",
                                            "interface-name": "eth0"}},
            },
            {
                "uuid": "u-wlan0", "id": "netplan-wlan0-TightropeLab",
                "type": "802-11-wireless", "interface": "wlan0", "flags": 0,
                "filename": "/run/NetworkManager/system-connections/"
                "netplan-wlan0-TightropeLab.nmconnection",
                "settings": {"connection": {"id": "netplan-wlan0-TightropeLab",
                                            "uuid": "u-wlan0",
                                            "type": "802-11-wireless",
                                            "interface-name": "wlan0"},
                             "802-11-wireless": {"ssid": "TightropeLab"}},
            },
        ],
        "active": [
            {"uuid": "u-eth0", "id": "netplan-eth0", "type": "802-3-ethernet",
             "state": "activated", "devices": ["eth0"], "default4": True},
            {"uuid": "u-wlan0", "id": "netplan-wlan0-TightropeLab", "type": "802-11-wireless",
             "state": "activated", "devices": ["wlan0"]},
        ],
        "access_points": [
            {"ssid": "TightropeLab", "bssid": "02:00:00:00:01:00", "signal": 100,
             "frequency_mhz": 2437, "secured": True, "seen_by": "wlan0"},
        ],
        "netplan_files": {
            "/etc/netplan/50-lab.yaml": (
                "network:\n  version: 2\n  renderer: NetworkManager\n"
                "  ethernets:\n    eth0:\n      addresses: [198.18.1.50/24]\n"
                "  wifis:\n    wlan0:\n      addresses: [198.18.1.51/24]\n"
                "      access-points:\n        TightropeLab:\n          password: x\n"
            )
        },
        "session": {"ssh_client": "198.18.1.10", "ssh_server": "198.18.1.50", "ssh_port": 22},
    }
    data.update(overrides)
    return Snapshot.from_dict(data)
