"""The box's wall clock jumps while a change awaits confirmation (issue: a Pi's clock).

A Raspberry Pi has no RTC: it boots with the last shutdown's time and NTP moves it, often by
hours, just as the new network comes up. Before deadlines moved to the boot clock, a +1 h
jump rolled a 60 s window back 5.9 s later, and a -1 h jump would have held it open an hour.
"""

from __future__ import annotations

import time

import pytest

from tests.lab.boxtools import (
    NEW,
    OLD,
    config_text,
    start_apply,
    try_ssh,
    txn_state,
    wait_phase,
    wait_ssh,
    write_config,
)
from tightrope.lab import Box

pytestmark = pytest.mark.lab
WINDOW = 60


def _jump(box: Box, seconds: int) -> None:
    cp = try_ssh(box, f"date -s @$(( $(date +%s) + {seconds} ))", NEW)
    assert cp.returncode == 0, cp.stderr


def test_the_confirm_window_ignores_wall_clock_jumps(netplan_box: Box) -> None:
    write_config(netplan_box, config_text())
    start_apply(netplan_box, f"--confirm-timeout {WINDOW} --verify-timeout 60")
    wait_ssh(netplan_box, NEW, 90)
    wait_phase(netplan_box, NEW, ("awaiting-confirm",), 90)
    t0 = time.monotonic()
    _jump(netplan_box, 3600)
    time.sleep(10)
    assert txn_state(netplan_box, NEW)["phase"] == "awaiting-confirm"
    _jump(netplan_box, -7200)  # an hour behind where it started
    state = wait_phase(netplan_box, OLD, ("rolled-back",), WINDOW + 60)
    waited = time.monotonic() - t0
    print(f"rolled back {waited:.1f} s after the window was seen open (window {WINDOW} s)")
    assert f"not confirmed within {WINDOW} s" in state["reason"]
    # Seen open late by up to one poll; the way back to the old address adds a few seconds.
    assert WINDOW - 5 <= waited <= WINDOW + 30
