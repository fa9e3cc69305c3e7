"""The ARP monitor on the real bond (issue 15): a dead path, which MII never notices.

The lab's dead path: the box's eth0 tap leaves the LAN bridge while QEMU keeps its link up
(`tightrope lab cut-path`), as when the switch between a Pi and its router loses its uplink.
The box's own drill makes the same fault with tc (`drill --fault path`). Each measurement is
printed for docs/benchmarks.md; what is asserted is what happened, not how fast.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from tests.lab.boxtools import NEW, PYZ, both_ports_up, tr, try_ssh
from tests.lab.test_apply_lab import _apply_and_confirm
from tightrope.lab import Box, Lab

pytestmark = pytest.mark.lab
MII = "parameters:\n  mii-monitor-interval: 100\n"


def _bond(box: Box, extra: str) -> dict[str, Any]:
    _apply_and_confirm(box, extra)
    both_ports_up(box)
    status: dict[str, Any] = json.loads(tr(box, "status --json", host=NEW).stdout)
    return status["bonds"][0]


def _active(box: Box) -> str:
    return str(json.loads(tr(box, "status --json", host=NEW).stdout)["bonds"][0]["active_port"])


def _cut_path(lab: Lab, box: Box, seconds: float, ask: bool) -> tuple[float, int, str]:
    """Pings from the laptop every 20 ms through a dead path of `seconds`; returns the
    longest silence (ms), the probes lost, and (if `ask`) the active port while the path was
    dead, asked over SSH at the bond's address (which answers only if it failed over)."""
    run = lab.start_ping(NEW, seconds=seconds + 8, interval=0.02)
    time.sleep(2)
    box.set_path(False)
    started = time.monotonic()
    during = "?"
    try:
        time.sleep(seconds / 2)
        if ask:
            # The kernel's own word: tightrope's status would take seconds to start here.
            cp = try_ssh(box, "cat /proc/net/bonding/bond0", NEW, timeout=seconds / 2)
            for line in cp.stdout.splitlines() if cp.returncode == 0 else ():
                if line.startswith("Currently Active Slave:"):
                    during = line.split(":", 1)[1].strip()
        time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    finally:
        box.set_path(True)
    res = run.result()
    return res.longest_gap_ms(), len(res.lost), during


def _drill_path(box: Box) -> dict[str, Any]:
    """The box's own dead-path drill, run as a unit of its own: under MII it cuts the box
    off for its length, and the SSH session that started it might not outlive that."""
    box.ssh("rm -f /root/drill.rc; systemd-run --quiet --collect --unit=tr-test-drill sh -c "
            f"'python3 {PYZ} drill --fault path --seconds 4 --interval-ms 20 --json "
            ">/root/drill.json 2>/root/drill.err; echo $? >/root/drill.rc'",
            host=NEW, timeout=30, check=True)  # fmt: skip
    deadline = time.monotonic() + 120
    while True:
        cp = try_ssh(box, "cat /root/drill.rc", NEW)
        if cp.returncode == 0 and cp.stdout.strip():
            break
        assert time.monotonic() < deadline, "the drill did not end"
        time.sleep(2)
    out = box.ssh("cat /root/drill.json /root/drill.err", host=NEW, timeout=30).stdout
    assert cp.stdout.strip() == "0", out[-2000:]
    doc: dict[str, Any] = json.loads(box.ssh("cat /root/drill.json", host=NEW).stdout)
    return doc


def test_arp_monitor_fails_over_from_a_dead_path(netplan_lab: Lab, netplan_box: Box) -> None:
    box = netplan_box
    bond = _bond(box, "")  # tightrope's default with a static gateway
    assert (bond["arp_interval_ms"], bond["arp_targets"], bond["miimon_ms"]) == (
        100, ["198.18.1.1"], 0)
    assert bond["active_port"] == "eth0"
    # The idle Wi-Fi backup must stay up under the ARP monitor, or there is nothing to fail
    # over to: the failover to wlan0 below, seconds after the bond came up, shows it was.

    gap, lost, during = _cut_path(netplan_lab, box, 8, ask=True)
    print(f"\narp dead path 8 s: longest silence {gap:.0f} ms, {lost} probes lost, "
          f"active while dead: {during}")
    assert during == "wlan0", "the bond did not fail over from the dead path"
    deadline = time.monotonic() + 60
    while _active(box) != "eth0":
        assert time.monotonic() < deadline, "no fail-back to eth0 after the path came back"
        time.sleep(1)
    both_ports_up(box)

    drill = _drill_path(box)
    print(f"arp drill --fault path: detected by {drill['detected_by']} after "
          f"{drill['detected_after_ms']} ms (floor {drill['detection_floor_ms']} ms), "
          f"failover {drill['failover_ms']} ms, fail-back {drill['failback_ms']} ms, "
          f"{drill['lost']}/{drill['sent']} lost")
    assert drill["detected_by"] == "ARP" and drill["detected_after_ms"] is not None


def test_mii_monitor_never_notices_a_dead_path(netplan_lab: Lab, netplan_box: Box) -> None:
    box = netplan_box
    bond = _bond(box, MII)
    assert (bond["miimon_ms"], bond["arp_interval_ms"]) == (100, 0)
    gap, lost, during = _cut_path(netplan_lab, box, 5, ask=False)
    print(f"\nmii dead path 5 s: longest silence {gap:.0f} ms, {lost} probes lost, "
          f"active while dead: {during}")
    assert gap >= 4000  # cut off for as long as the path was dead: nothing failed over
    # The drill's "not detected" under MII is tests/unit/test_drill.py's: a lab run of it
    # cost a minute of CI for what the dead path above already showed.
