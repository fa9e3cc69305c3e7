"""The seed baseline: what the seed article's nmcli script really does to a netplan box.

Runs the script detached on the box (systemd-run, as the article's tmux did), then measures
from the laptop: when the new address answers, what the bond looks like, what the Wi-Fi port
needed, the outage when the cable is pulled and when it returns, which port carries traffic
afterwards, and whether the netplan profiles come back after `netplan generate` (what
netplan's generator runs at every boot). The figures go to .cache/lab-results/
seed-baseline.json; docs/seed-baseline.md records them. The benchmarks compare tightrope
against these.

A reboot is not part of it any more: it asserted what `netplan generate` had just shown (the
files in /run, the profiles listed) and cost CI two minutes; what a reboot activates is in
docs/seed-baseline.md, from the runs that had it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.lab.seedrun import (
    SEED_SCRIPT,
    UNIT,
    active_profiles,
    all_profiles,
    bond,
    measure_cable,
    netplan_files,
    reassociation_s,
    wait_for,
    wifi_associated,
    write_results,
)
from tightrope.lab import LAB_SSID, SEED_TARGET, Box, Lab

pytestmark = pytest.mark.lab

NETPLAN_PROFILES = ["netplan-eth0", f"netplan-wlan0-{LAB_SSID}"]


def both_ports_up(box: Box) -> bool:
    b = bond(box)
    return {p.interface: p.mii_status for p in b.ports} == {"eth0": "up", "wlan0": "up"} and (
        wifi_associated(box)
    )


def test_seed_script_baseline(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path, record_property: Any
) -> None:
    lab, box = netplan_lab, netplan_box
    facts: dict[str, Any] = {"accel": lab.accel}
    script = tmp_path / "seed.sh"
    script.write_text(SEED_SCRIPT)
    box.put(script, "/root/seed.sh")

    # --- run it, detached, and watch the new address from the laptop -------------------
    t0 = time.monotonic()
    box.ssh(f"systemd-run --quiet --collect --unit={UNIT} bash /root/seed.sh", timeout=30)
    lab.wait_ping(SEED_TARGET, 120)
    facts["new_address_answers_s"] = round(time.monotonic() - t0, 1)
    wait_for("bond0 with eth0 and wlan0 up and Wi-Fi associated", lambda: both_ports_up(box),
             timeout=120)  # fmt: skip
    facts["both_ports_up_s"] = round(time.monotonic() - t0, 1)

    out = box.ssh(f"journalctl -u {UNIT} -o cat --no-pager", host=SEED_TARGET).stdout
    facts["script_output"] = [line for line in out.splitlines() if "successfully" in line]
    assert "Connection successfully activated" in out

    b = bond(box)
    facts["bond"] = {
        "mode": b.mode, "fail_over_mac": b.fail_over_mac, "miimon_ms": b.mii_interval_ms,
        "primary": b.primary, "active": b.active_port, "ports": [p.interface for p in b.ports],
    }  # fmt: skip
    assert (b.mode, b.fail_over_mac, b.mii_interval_ms, b.primary) == (
        "active-backup", "active", 100, None,
    )  # fmt: skip
    assert sorted(p.interface for p in b.ports) == ["eth0", "wlan0"]
    active = active_profiles(box, SEED_TARGET)
    assert active.get("bond0") == "bond0"
    assert active.get("bond-eth") == "eth0"
    assert active.get("bond-wifi") == "wlan0"
    assert not any(p in active for p in NETPLAN_PROFILES)

    # --- what the Wi-Fi port needed ---------------------------------------------------
    macs = box.ssh("cat /sys/class/net/{bond0,eth0,wlan0}/address", host=SEED_TARGET).stdout
    bond_mac, eth0_mac, wlan0_mac = macs.split()
    facts["macs"] = {"bond0": bond_mac, "eth0": eth0_mac, "wlan0": wlan0_mac}
    # fail_over_mac=active: wlan0 keeps its own MAC (the one the AP knows); the bond takes the
    # active port's.
    assert wlan0_mac == box.spec.wlan0_mac and bond_mac == eth0_mac == box.spec.eth0_mac
    journal = box.ssh("journalctl -b -u NetworkManager -o cat --no-pager", host=SEED_TARGET).stdout
    reassoc = reassociation_s(journal)
    assert reassoc is not None, "wlan0 never completed a WPA handshake after being enslaved"
    facts["wifi_reassociation_after_enslave_s"] = round(reassoc, 1)
    wifi = box.ssh("nmcli -t -f 802-11-wireless.ssid,802-11-wireless-security.key-mgmt,"
                   "connection.master,connection.slave-type connection show bond-wifi",
                   host=SEED_TARGET).stdout  # fmt: skip
    assert f"802-11-wireless.ssid:{LAB_SSID}" in wifi and "slave-type:bond" in wifi

    # --- the cable: pulled, then back ---------------------------------------------------
    assert b.active_port == "eth0"
    # The same ping with nothing happening: the noise floor of the figures below (under
    # software emulation a busy host alone delays replies by tens of ms).
    facts["idle"] = lab.ping(SEED_TARGET, seconds=4).summary()
    ping = lab.start_ping(SEED_TARGET, seconds=6)
    measure_cable(box, ping, plugged=False)
    pulled = ping.result()
    facts["cable_pulled"] = pulled.summary()
    after_pull = bond(box).active_port
    facts["active_after_pull"] = after_pull
    assert after_pull == "wlan0"
    assert pulled.received > 0 and pulled.outage_ms() < 2000, pulled.summary()

    time.sleep(2)
    ping = lab.start_ping(SEED_TARGET, seconds=6)
    measure_cable(box, ping, plugged=True)
    back = ping.result()
    facts["cable_back"] = back.summary()
    time.sleep(2)
    after_back = bond(box)
    facts["active_after_cable_back"] = after_back.active_port
    # No primary port: the bond stays on Wi-Fi although the cable is back.
    assert after_back.active_port == "wlan0"
    assert {p.interface: p.mii_status for p in after_back.ports}["eth0"] == "up"

    # --- netplan: the YAML is still there, so its profiles come back -------------------
    assert "50-cloud-init.yaml" in box.ssh("ls /etc/netplan", host=SEED_TARGET).stdout
    assert netplan_files(box, SEED_TARGET) == []
    box.ssh("netplan generate", host=SEED_TARGET, check=True)
    facts["after_netplan_generate"] = {
        "files_in_run": netplan_files(box, SEED_TARGET),
        "listed_by_nmcli": [p for p in all_profiles(box, SEED_TARGET) if p in NETPLAN_PROFILES],
    }
    box.ssh("nmcli connection reload", host=SEED_TARGET, check=True)
    facts["after_netplan_generate"]["listed_after_reload"] = [
        p for p in all_profiles(box, SEED_TARGET) if p in NETPLAN_PROFILES
    ]
    assert facts["after_netplan_generate"]["files_in_run"] == sorted(
        f"{p}.nmconnection" for p in NETPLAN_PROFILES
    )
    listed = facts["after_netplan_generate"]["listed_after_reload"]
    assert all(p in listed for p in NETPLAN_PROFILES), listed

    path = write_results("seed-baseline", facts)
    record_property("seed_baseline", facts)
    print(f"\nseed baseline ({path}):")
    for k, v in facts.items():
        print(f"  {k}: {v}")
