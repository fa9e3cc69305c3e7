"""Prove it, on the real bond: the failover drill, its guard, and the live event view."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.boxtools import NEW, both_ports_up, config_text, tr, write_config
from tests.lab.test_apply_lab import _apply_and_confirm
from tests.lab.test_remote_lab import _laptop_argv
from tightrope.lab import Box, Lab

pytestmark = pytest.mark.lab


def test_drill_guard_and_watch(
    netplan_lab: Lab,
    netplan_box: Box,
    pyz: Path,
    tmp_path: Path,
) -> None:
    box = netplan_box
    _apply_and_confirm(box, pyz)
    both_ports_up(box)

    # The drill, from the laptop, with its picture drawn here.
    picture = tmp_path / "drill.png"
    cp = subprocess.run(
        _laptop_argv(
            netplan_lab,
            box,
            "drill",
            "--seconds",
            "4",
            "--json",
            "--picture",
            str(picture),
            "--host",
            f"root@{NEW}",
        ),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
    result = json.loads(cp.stdout)
    print(
        f"drill: failover {result['failover_ms']} ms, fail-back {result['failback_ms']} ms, "
        f"{result['lost']}/{result['sent']} lost, events {result['events']}"
    )
    assert result["port"] == "eth0" and result["backups"] == ["wlan0"]
    assert 0 <= result["failover_ms"] < 3000
    assert any("active eth0 -> wlan0" in what for _, what in result["events"])
    assert picture.stat().st_size > 10_000
    both_ports_up(box)

    # The live view, from the laptop: the failover a cable pull causes, and a transaction
    # (a changed up-delay, auto-confirmed) with its checkpoint.
    watch = subprocess.Popen(
        _laptop_argv(netplan_lab, box, "watch", "--json", "--seconds", "150",
                     "--host", f"root@{NEW}"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # so that stopping it stops its ssh too
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert watch.stdout is not None
        for line in watch.stdout:  # until its D-Bus subscription is live
            lines.append(line)
            if "listening to signals" in line:
                break
        box.pull_cable()
        time.sleep(3)
        box.plug_cable()
        write_config(box, config_text(extra="parameters: {up-delay: 1000}\n"), host=NEW)
        cp = tr(box, "apply /root/bond.yaml --yes --auto-confirm", host=NEW, timeout=240)
        assert cp.returncode == 0, cp.stdout[-2000:] + cp.stderr[-2000:]
        time.sleep(3)
    finally:
        os.killpg(watch.pid, signal.SIGTERM)
        out, err = watch.communicate(timeout=30)
    events = [json.loads(ln) for ln in [*lines, *out.splitlines()] if ln.startswith("{")]
    whats = [(e["source"], e["what"]) for e in events]
    assert ("bond", "active port eth0 -> wlan0") in whats, (whats, err[-2000:])
    assert any(src == "nm" and "listening" not in what for src, what in whats), whats
    assert any(src == "nm" and what.startswith("checkpoints now") for src, what in whats), whats
    assert ("txn", "apply committed") in whats, whats
    assert any(src == "txn" and what == "step checkpoint done" for src, what in whats), whats
    assert "1000" in box.ssh("cat /sys/class/net/bond0/bonding/updelay", host=NEW).stdout
    both_ports_up(box)

    # Refused when the backup is not ready: the drill must never cut the box off.
    box.ssh("nmcli device disconnect wlan0", host=NEW, timeout=30)
    cp = tr(box, "drill --seconds 2", host=NEW)
    assert cp.returncode != 0 and "refused" in cp.stderr, cp.stderr
    box.ssh("nmcli connection up bond0-port-wlan0", host=NEW, timeout=60)
    both_ports_up(box)

    # The guard brings the port back even if the drill dies with it down.
    box.ssh("nohup python3 /root/tightrope.pyz drill --seconds 20 >/dev/null 2>&1 &", host=NEW)
    for _ in range(60):
        if "state DOWN" in box.ssh("ip link show eth0", host=NEW).stdout:
            break
        time.sleep(0.5)
    assert "state DOWN" in box.ssh("ip link show eth0", host=NEW).stdout
    box.ssh("pkill -KILL -f 'tightrope.pyz drill'", host=NEW)
    t0 = time.monotonic()
    for _ in range(90):
        if "state UP" in box.ssh("ip link show eth0", host=NEW).stdout:
            break
        time.sleep(1)
    print(f"guard restored eth0 {time.monotonic() - t0:.0f} s after the drill was killed")
    assert "state UP" in box.ssh("ip link show eth0", host=NEW).stdout
