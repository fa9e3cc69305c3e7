"""Lab-only constants and per-box addressing. Every address lives in 198.18.0.0/15 (RFC 2544
benchmarking space), so nothing the lab sends can be mistaken for, or routed to, a real network.
"""

from __future__ import annotations

from dataclasses import dataclass

# Lab-only Wi-Fi credentials: they exist inside the VM's simulated radios and nowhere else.
LAB_SSID = "TightropeLab"
LAB_PSK = "lab-only-psk-not-a-secret"

LAN_PREFIX = 24
LAN_NET = "198.18.1.0"
GATEWAY = "198.18.1.1"
LAPTOP = "198.18.1.10"
DNS = GATEWAY
DHCP_FIRST = "198.18.1.100"
DHCP_LAST = "198.18.1.199"
# The seed article moves its box to .64; the lab keeps that host number.
SEED_TARGET = "198.18.1.64"

START_STATES = ("netplan", "rpios", "trixie")


@dataclass(frozen=True)
class BoxSpec:
    """One box: which start state it boots into and the addresses that follow from its index.

    Box 0 is .50 (eth0) / .51 (wlan0), box 1 is .60 / .61, and so on, so boxes sharing a LAN
    never collide.
    """

    index: int = 0
    state: str = "netplan"

    def __post_init__(self) -> None:
        if self.state not in START_STATES:
            raise ValueError(f"unknown start state {self.state!r}; one of {START_STATES}")
        if not 0 <= self.index <= 4:
            raise ValueError("box index must be 0..4")

    @property
    def name(self) -> str:
        return f"box{self.index}"

    @property
    def eth0_ip(self) -> str:
        return f"198.18.1.{50 + 10 * self.index}"

    @property
    def wlan0_ip(self) -> str:
        return f"198.18.1.{51 + 10 * self.index}"

    @property
    def eth0_mac(self) -> str:
        return f"52:54:00:18:01:{50 + 10 * self.index:02x}"

    @property
    def uplink_mac(self) -> str:
        """MAC of the VM's second NIC, the access point's wired uplink."""
        return f"52:54:00:18:02:{50 + 10 * self.index:02x}"

    @property
    def wlan0_mac(self) -> str:
        # Box 0 keeps mac80211_hwsim's own address for radio 0; every box's hwsim would pick
        # the same one, so further boxes on the same LAN get their own.
        return "02:00:00:00:00:00" if self.index == 0 else f"02:00:00:18:{self.index:02x}:00"

    def kernel_args(self) -> list[str]:
        """Parameters the guest's first-boot and access-point services read from /proc/cmdline."""
        return [
            f"trl.state={self.state}",
            f"trl.host=tightrope-{self.name}",
            f"trl.eth0={self.eth0_ip}/{LAN_PREFIX}",
            f"trl.wlan0={self.wlan0_ip}/{LAN_PREFIX}",
            f"trl.gw={GATEWAY}",
            f"trl.wlanmac={self.wlan0_mac}",
        ]
