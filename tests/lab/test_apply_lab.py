"""Safe apply against the real box: every guarantee of the safe-apply issue, in the VM lab.

Each test starts from the pristine start state (loadvm) and ends with the box reachable.
Timeouts are shortened (confirm 30 s, verify 40 s) so failures roll back quickly under TCG.
"""

from __future__ import annotations

import json
import time

import pytest

from tests.lab.boxtools import (
    NEW,
    OLD,
    cable_failover,
    config_text,
    profiles,
    start_apply,
    tr,
    try_ssh,
    undo_and_confirm,
    wait_phase,
    wait_ssh,
    write_config,
)
from tightrope.lab import Box, Lab

pytestmark = pytest.mark.lab
# A bad change: rolled back before 40 s (every port verified: by default a Wi-Fi port that
# cannot join is reported, not waited for, once the cable carries the bond).
FAST = "--confirm-timeout 30 --verify-timeout 40 --verify-all-ports"
# A good change: under TCG a Wi-Fi port's first association can time out (NetworkManager's
# 25 s supplicant timeout, seen in CI with the access point up); a second try needs 30 s of
# the window left (txn/verify_step.RETRY_ROOM_S), so a 40 s window turned that into a false
# "no access point in range" and a rollback. Verification ends as soon as it passes.
# Every port verified: the tests after it fail over to wlan0, which must have joined.
GOOD = "--confirm-timeout 30 --verify-timeout 60 --verify-all-ports"


def _apply_and_confirm(box: Box, extra: str = "") -> None:
    """The lab tests' bond (with `extra` YAML after it), applied and confirmed at .64."""
    write_config(box, config_text(extra=extra))
    start_apply(box, GOOD)
    wait_ssh(box, NEW, 90)
    wait_phase(box, NEW, ("awaiting-confirm", "committed", "rolled-back"), 90)
    cp = tr(box, "confirm", host=NEW)
    assert cp.returncode == 0, cp.stdout + cp.stderr


def test_rpios_box_commits_reboots_fails_over_and_undoes(rpios_lab: Lab, rpios_box: Box) -> None:
    """The whole life of the seed's change on a box whose profiles are NetworkManager's own
    (keyfiles, no netplan): commit, reboot, fail over and back, undo to the exact old set.
    The netplan start states go through the same life in test_netplan_commit_lab.py."""
    box = rpios_box
    before = profiles(box)
    _apply_and_confirm(box)
    status = json.loads(tr(box, "status --json", host=NEW).stdout)
    (bond,) = status["bonds"]
    assert {p["interface"] for p in bond["ports"]} == {"eth0", "wlan0"}
    assert bond["active_port"] == "eth0" and bond["primary"] == "eth0"
    assert bond["fail_over_mac"] == "active"

    box.reboot(host=NEW)
    names = box.ssh("nmcli -t -f NAME connection show", host=NEW, check=True).stdout.split()
    assert sorted(n for n in names if n != "lo") == ["bond0", "bond0-port-eth0", "bond0-port-wlan0"]
    cable_failover(rpios_lab, box)

    done = undo_and_confirm(box)
    assert done["outcome"] == "committed", done
    assert profiles(box) == before


def test_gateway_on_another_subnet_rolls_back_to_the_exact_old_state(netplan_box: Box) -> None:
    # The wrong PSK, the absent SSID and the silent gateway are test_failfast_lab.py's cases
    # (with the reason asserted); a gateway outside the LAN is this one.
    before = profiles(netplan_box)
    write_config(netplan_box, config_text(address="198.19.0.64/24", gateway="198.19.0.1"))
    t0 = time.monotonic()
    start_apply(netplan_box, FAST)
    state = wait_phase(netplan_box, OLD, ("rolled-back", "committed", "failed"), 40 + 30 + 60)
    assert time.monotonic() - t0 < 40 + 30 + 10 + 30  # verify + confirm windows + margins
    assert state["outcome"] == "rolled-back", state
    print(f"other subnet: {state['reason']}")
    assert profiles(netplan_box) == before


def test_unconfirmed_apply_rolls_back(netplan_box: Box) -> None:
    before = profiles(netplan_box)
    write_config(netplan_box, config_text())
    # The shortest confirmation window there is: nobody confirms this one.
    start_apply(netplan_box, GOOD.replace("--confirm-timeout 30", "--confirm-timeout 15"))
    wait_ssh(netplan_box, NEW, 90)
    t0 = time.monotonic()
    state = wait_phase(netplan_box, OLD, ("rolled-back",), 60 + 15 + 10)
    print(f"rolled back {time.monotonic() - t0:.1f} s after the new address answered")
    assert "not confirmed" in state["reason"]
    assert profiles(netplan_box) == before


@pytest.mark.parametrize("phase", ["verifying", "awaiting-confirm"])
def test_killed_runner_lets_networkmanager_roll_back(
    netplan_box: Box,
    phase: str,
) -> None:
    before = profiles(netplan_box)
    write_config(netplan_box, config_text())
    start_apply(netplan_box, "--confirm-timeout 120 --verify-timeout 60")
    host = NEW if phase == "awaiting-confirm" else OLD
    if phase == "awaiting-confirm":
        wait_ssh(netplan_box, NEW, 90)
    # The runner may already be past `phase` on a fast box; killing it later is just as valid.
    for _ in range(60):
        cp = try_ssh(netplan_box, "systemctl kill --signal=KILL 'tightrope-txn-*'; echo ok", host)
        if cp.returncode == 0:
            break
        host = NEW if host == OLD else OLD
    t0 = time.monotonic()
    wait_ssh(netplan_box, OLD, 30 + 60)
    print(f"old address back {time.monotonic() - t0:.1f} s after SIGKILL")
    for _ in range(30):
        if profiles(netplan_box) == before:
            break
        time.sleep(1)
    assert profiles(netplan_box) == before
    # The next command notices the dead runner and frees the lock.
    cp = tr(netplan_box, "log")
    assert "died" in cp.stdout or "aborted" in cp.stdout, cp.stdout


@pytest.mark.parametrize("when", ["before-commit", "after-commit"])
def test_power_cut(netplan_box: Box, when: str) -> None:
    before = profiles(netplan_box)
    if when == "after-commit":
        _apply_and_confirm(netplan_box)
        netplan_box.ssh("sync", host=NEW)
    else:
        write_config(netplan_box, config_text())
        start_apply(netplan_box, "--confirm-timeout 120")
        wait_phase(netplan_box, NEW, ("awaiting-confirm",), 90)
    boot = netplan_box.boot_id(host=NEW)  # committed or awaiting confirmation: at NEW
    netplan_box.power_cut()
    expect = NEW if when == "after-commit" else OLD
    wait_ssh(netplan_box, expect, 180)
    assert netplan_box.boot_id(host=expect) != boot  # a new boot, from the disk as it was
    names = netplan_box.ssh("nmcli -t -f NAME connection show", host=expect).stdout.split()
    if when == "before-commit":
        assert profiles(netplan_box) == before
        cp = tr(netplan_box, "log")
        assert "rebooted before confirmation" in cp.stdout, cp.stdout
    else:
        assert not any(n.startswith("netplan-") for n in names), names


def test_networkmanager_restart_mid_transaction(netplan_box: Box) -> None:
    before = profiles(netplan_box)
    write_config(netplan_box, config_text())
    start_apply(netplan_box, "--confirm-timeout 120")
    wait_phase(netplan_box, NEW, ("awaiting-confirm",), 90)
    netplan_box.ssh("systemctl restart NetworkManager", host=NEW, timeout=30)
    # A restart drops the checkpoint without rolling back; the runner notices and undoes.
    state = wait_phase(netplan_box, OLD, ("rolled-back", "committed"), 120)
    assert state["outcome"] == "rolled-back" and "vanished" in state["reason"], state
    for _ in range(30):
        if profiles(netplan_box) == before:
            break
        time.sleep(1)
    assert profiles(netplan_box) == before


def test_second_apply_while_pending_is_refused_and_psk_stays_hidden(
    netplan_box: Box,
) -> None:
    write_config(netplan_box, config_text())
    # Watch every process's argv on the box while the transaction runs.
    netplan_box.ssh(
        "(while [ ! -e /root/argv.stop ]; do cat /proc/[0-9]*/cmdline 2>/dev/null | "
        "tr '\\0' ' '; echo; sleep 0.2; done > /root/argv.log) >/dev/null 2>&1 &"
    )
    start_apply(netplan_box, GOOD)
    wait_phase(netplan_box, NEW, ("awaiting-confirm",), 120)
    cp = tr(netplan_box, "apply /root/bond.yaml --yes", host=NEW)
    assert cp.returncode == 5 and "still pending" in cp.stderr, cp.stdout + cp.stderr
    tr(netplan_box, "confirm", host=NEW)
    # The pattern comes from the PSK file, so these greps do not put the PSK in argv either.
    leaks = netplan_box.ssh(
        "touch /root/argv.stop; sleep 1; p=/root/wlan0.psk; grep -c -F -f $p /root/argv.log; "
        "journalctl -t tightrope --no-pager | grep -c -F -f $p; "
        "grep -rl -F -f $p /var/lib/tightrope | grep -v /backup/",
        host=NEW,
        timeout=90,
    )
    assert leaks.stdout.split()[:2] == ["0", "0"], leaks.stdout + leaks.stderr
    assert "/var/lib" not in leaks.stdout
