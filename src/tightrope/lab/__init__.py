"""The VM lab: a throwaway Debian box with NetworkManager, bonding, Wi-Fi and SSH.

    from tightrope.lab import Lab
    with Lab("demo") as lab:
        box = lab.up("netplan")          # or "rpios"
        box.ssh("nmcli connection show")
        box.pull_cable()
        lab.ping("198.18.1.51", seconds=3).outage_ms()

See docs/lab.md.
"""

from tightrope.lab.box import Box
from tightrope.lab.lab import Lab, cleanup, list_runs
from tightrope.lab.net import (
    DNS,
    GATEWAY,
    LAB_PSK,
    LAB_SSID,
    LAN_PREFIX,
    LAPTOP,
    SEED_TARGET,
    START_STATES,
    BoxSpec,
)
from tightrope.lab.ping import PingResult, PingRun, parse_ping

__all__ = [
    "DNS",
    "GATEWAY",
    "LAB_PSK",
    "LAB_SSID",
    "LAN_PREFIX",
    "LAPTOP",
    "SEED_TARGET",
    "START_STATES",
    "Box",
    "BoxSpec",
    "Lab",
    "PingResult",
    "PingRun",
    "cleanup",
    "list_runs",
    "parse_ping",
]
