"""Prove it, on the real bond: the failover drill, its guard, and the live event view.

From the laptop both go through the box's agent (typed requests, typed answers) and are
rendered here; the box's own command line calls the same application layer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.boxtools import (
    NEW,
    both_ports_up,
    config_text,
    start_apply,
    tr,
    wait_phase,
    write_config,
)
from tests.lab.test_apply_lab import _apply_and_confirm
from tests.lab.test_remote_lab import _laptop_argv
from tightrope.lab import Box, Lab

pytestmark = pytest.mark.lab


def test_drill_guard_and_watch(
    netplan_lab: Lab,
    netplan_box: Box,
    tmp_path: Path,
) -> None:
    box = netplan_box
    _apply_and_confirm(box)
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
    # (a changed up-delay, auto-confirmed) with its checkpoint; ended by Ctrl-C, quietly.
    watch = _watch(netplan_lab, box, "--seconds", "600")
    lines = _until_listening(watch)
    try:
        box.pull_cable()
        time.sleep(3)
        box.plug_cable()
        write_config(box, config_text(extra="parameters: {up-delay: 1000}\n"), host=NEW)
        # Detached: the bond's reactivation takes .64 away for seconds (the plan's ssh-blip
        # caution), longer than the lab's SSH keepalive (6 s) on a slow host.
        start_apply(box, "--auto-confirm --verify-all-ports", host=NEW)
        state = wait_phase(box, NEW, ("committed", "rolled-back", "failed"), 240)
        assert state["outcome"] == "committed", state
        time.sleep(3)
    finally:
        os.killpg(watch.pid, signal.SIGINT)  # Ctrl-C: the terminal signals the whole group
        out, err = watch.communicate(timeout=60)
    assert watch.returncode == 0 and "Traceback" not in err, err[-2000:]
    whats = _whats([*lines, *out.splitlines()])
    assert ("bond", "active port eth0 -> wlan0") in whats, (whats, err[-2000:])
    assert any(src == "nm" and "listening" not in what for src, what in whats), whats
    assert any(src == "nm" and what.startswith("checkpoints now") for src, what in whats), whats
    assert ("txn", "apply committed") in whats, whats
    assert any(src == "txn" and what == "step checkpoint done" for src, what in whats), whats
    assert "1000" in box.ssh("cat /sys/class/net/bond0/bonding/updelay", host=NEW).stdout
    # The laptop gone, the box's agent ends its watch and leaves nothing running.
    left = ""
    for _ in range(30):
        # ([_] and [i]: the pattern must not find the shell that runs pgrep)
        left = box.ssh("pgrep -af ' [_]agent$|[i]p -ts monitor' || true", host=NEW).stdout
        if not left.strip():
            break
        time.sleep(1)
    assert not left.strip(), left
    both_ports_up(box)

    # A watch with an end ends by itself, with what happened meanwhile as JSON lines.
    t0 = time.monotonic()
    watch = _watch(netplan_lab, box, "--seconds", "40")
    lines = _until_listening(watch)
    listening = time.monotonic() - t0
    box.pull_cable()
    time.sleep(3)
    box.plug_cable()
    out, err = watch.communicate(timeout=120)
    print(f"the 40 s watch: listening after {listening:.0f} s, over after "
          f"{time.monotonic() - t0:.0f} s")  # fmt: skip
    assert watch.returncode == 0, err[-2000:]
    whats = _whats([*lines, *out.splitlines()])
    assert ("bond", "link down in bond0") in whats, whats
    assert ("bond", "active port eth0 -> wlan0") in whats, whats
    both_ports_up(box)

    # Refused when the backup is not ready: the drill must never cut the box off (on the box
    # and from the laptop, with the reason and the way out).
    box.ssh("nmcli device disconnect wlan0", host=NEW, timeout=30)
    cp = tr(box, "drill --seconds 2", host=NEW)
    assert cp.returncode != 0 and "refused" in cp.stderr, cp.stderr
    cp = subprocess.run(_laptop_argv(netplan_lab, box, "drill", "--seconds", "2", "--host",
                                     f"root@{NEW}"), capture_output=True, text=True,
                        timeout=300)  # fmt: skip
    assert cp.returncode == 1 and "drill refused: no backup port" in cp.stderr, cp.stderr
    assert "Fix the backup port first" in cp.stderr, cp.stderr
    box.ssh("nmcli connection up bond0-port-wlan0", host=NEW, timeout=60)
    both_ports_up(box)

    # The guard brings the port back even if the drill dies with it down.
    box.ssh("nohup python3 /root/tightrope.pyz drill --seconds 8 >/dev/null 2>&1 &", host=NEW)
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


def _watch(lab: Lab, box: Box, *args: str) -> subprocess.Popen[str]:
    """`watch --json --host` from the laptop, in its own process group (as a terminal runs
    it: Ctrl-C reaches the ssh beneath it too)."""
    return subprocess.Popen(
        _laptop_argv(lab, box, "watch", "--json", *args, "--host", f"root@{NEW}"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=_ctrl_c_as_in_a_terminal,
    )  # fmt: skip


def _ctrl_c_as_in_a_terminal() -> None:
    # A shell starts a background job with SIGINT ignored, and the ignoring is inherited:
    # a CI run started with `&` made Python ignore Ctrl-C (no KeyboardInterrupt), while ssh
    # beneath it died of it, and the watch reconnected instead of ending.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _until_listening(watch: subprocess.Popen[str]) -> list[str]:
    """The lines up to the box's D-Bus subscription being live (its sources run by then)."""
    lines: list[str] = []
    assert watch.stdout is not None
    for line in watch.stdout:
        lines.append(line)
        if "listening to signals" in line:
            return lines
    _, err = watch.communicate(timeout=30)
    raise AssertionError(f"the watch ended before it listened: {lines} {err[-2000:]}")


def _whats(lines: list[str]) -> list[tuple[str, str]]:
    # Every line a JSON object, one event each.
    return [(e["source"], e["what"]) for e in map(json.loads, lines)]
