"""Helpers for the seed baseline: the seed article's script with lab values, and readers of
what the box says afterwards. Kept apart from the test so the test reads as the story."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

from tightrope.core.procbond import parse_proc_bond
from tightrope.core.snapshot import BondRuntime
from tightrope.lab import DNS, GATEWAY, LAB_PSK, LAB_SSID, SEED_TARGET, Box, PingRun

UNIT = "tightrope-seed"

# The article's script (docs/seed-baseline.md), command for command, with the lab's SSID, PSK
# and addresses and the lab gateway as DNS server (no test packet may leave the lab). The blog
# rendered it with typographic quotes and ran some commands together on one line; those are
# straight quotes and one command per line here, as the author evidently ran them.
# Deliberately NOT tightrope's practice: the PSK is on nmcli's command line, as in the seed.
SEED_SCRIPT = f"""#!/bin/bash
echo Run this with sudo
read ans

# 1. Delete the old netplan-generated profiles to avoid configuration conflicts
nmcli connection delete "netplan-eth0"
nmcli connection delete "netplan-wlan0-{LAB_SSID}"

# 2. Create the master bond interface
nmcli connection add type bond con-name bond0 ifname bond0 mode active-backup +bond.options "miimon=100"

# 3. Add eth0 as a slave to bond0
nmcli connection add type ethernet con-name bond-eth slave-type bond master bond0 ifname eth0

# 4. Add wlan0 as a slave to bond0
nmcli connection add type wifi con-name bond-wifi slave-type bond master bond0 ifname wlan0 ssid "{LAB_SSID}"
nmcli connection modify bond-wifi wifi-sec.key-mgmt wpa-psk wifi-sec.psk "{LAB_PSK}"

# 5. Assign your target static IP (.64) to the bond master
nmcli connection modify bond0 ipv4.addresses "{SEED_TARGET}/24" ipv4.gateway "{GATEWAY}" ipv4.dns "{DNS}" ipv4.method manual

# 6. Make the bond an active failover (Crucial for mixed wire/wireless bonds)
nmcli connection modify bond0 +bond.options "fail_over_mac=active"

# 7. Cycle the connections to apply the changes
# This will sever your SSH session, which is relatively safe inside tmux!
nmcli connection up bond0
"""  # noqa: E501


def results_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / ".cache" / "lab-results"
    return Path(os.environ.get("TIGHTROPE_LAB_RESULTS", default))


def write_results(name: str, facts: dict[str, Any]) -> Path:
    d = results_dir()
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{name}.json"
    path.write_text(json.dumps(facts, indent=2, sort_keys=True) + "\n")
    return path


def bond(box: Box, host: str = SEED_TARGET) -> BondRuntime:
    return parse_proc_bond(box.ssh("cat /proc/net/bonding/bond0", host=host, check=True).stdout)


def wifi_associated(box: Box, host: str = SEED_TARGET) -> bool:
    return "Connected to" in box.ssh("iw dev wlan0 link", host=host).stdout


def active_profiles(box: Box, host: str) -> dict[str, str]:
    out = box.ssh("nmcli -t -f NAME,DEVICE connection show --active", host=host, check=True)
    return dict(line.rsplit(":", 1) for line in out.stdout.splitlines() if line)


def all_profiles(box: Box, host: str) -> list[str]:
    out = box.ssh("nmcli -t -f NAME connection show", host=host, check=True).stdout
    return sorted(line for line in out.splitlines() if line)


def netplan_files(box: Box, host: str) -> list[str]:
    out = box.ssh("ls /run/NetworkManager/system-connections/", host=host, check=True).stdout
    return sorted(n for n in out.split() if n.startswith("netplan-"))


_NM_TS = re.compile(r"\[(\d+\.\d+)\]")


def reassociation_s(journal: str) -> float | None:
    """From NetworkManager's journal: seconds between wlan0 being attached to the bond and
    its next completed WPA handshake."""
    attached: float | None = None
    for line in journal.splitlines():
        m = _NM_TS.search(line)
        if not m:
            continue
        if "attached bond port wlan0" in line:
            attached = float(m[1])
        elif attached is not None and "device (wlan0)" in line and "-> completed" in line:
            return float(m[1]) - attached
    return None


def wait_for(what: str, check: Any, timeout: float, step: float = 0.5) -> float:
    t0 = time.monotonic()
    while True:
        try:
            if check():
                return time.monotonic() - t0
        except Exception:  # the box may be between addresses; keep polling
            pass
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def measure_cable(box: Box, ping: PingRun, plugged: bool, lead: float = 2.0) -> float:
    """Change the cable `lead` seconds into a running ping; returns the host time it did."""
    time.sleep(lead)
    t = time.time()
    box.set_cable(plugged)
    return t
