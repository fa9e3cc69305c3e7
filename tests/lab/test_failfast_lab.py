"""A bad change is caught in seconds, in the admin's words (issue 18 item 1), on the real box.

Each case starts an apply with the default 60 s verification window and expects the rollback
long before it ends, with the exact reason. Each prints where the time went: the box's own
clock from the apply command to the rollback being recorded (and the phases between), and
the laptop's from the start to the old address answering again.
"""

from __future__ import annotations

import time

import pytest

from tests.lab.boxtools import (
    OLD,
    config_text,
    profiles,
    start_apply,
    wait_phase,
    write_config,
)
from tightrope.lab import LAB_PSK, Box, Lab

pytestmark = pytest.mark.lab

# Every port verified: a Wi-Fi port that cannot join rolls the change back (by default the
# cable would carry the bond without it, and the record would say why it is missing).
VERIFY_S = 60
WINDOW = f"--confirm-timeout 30 --verify-timeout {VERIFY_S} --verify-all-ports"
GOAL_S = 25.0  # from the start to the old address answering again, with the reason

PSK = "the access point 'TightropeLab' refused the PSK for wlan0; check the passphrase"
SSID = ("no access point 'NoSuchNetwork' in range of wlan0 (not in its scan results); "
        "check the SSID")  # fmt: skip
GATEWAY = "no ARP reply from 198.18.1.254 on bond0: wrong gateway or wrong subnet?"
# The laptop's address: another machine on the LAN that answers ARP for it.
IN_USE = ("198.18.1.10 is already in use on the LAN (another machine answered ARP for it); "
          "choose a free address")  # fmt: skip

CASES = {
    "wrong-psk": (config_text(), "not-the-lab-passphrase", PSK),
    "absent-ssid": (config_text(ssid="NoSuchNetwork"), LAB_PSK, SSID),
    "wrong-gateway": (config_text(gateway="198.18.1.254"), LAB_PSK, GATEWAY),
    "address-in-use": (config_text(address="198.18.1.10/24"), LAB_PSK, IN_USE),
}


def _wait_silent(lab: Lab, address: str, timeout: float = 60) -> None:
    """Until `address` is really gone: a busy emulated box may miss one half-second ping."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        lab.wait_ping(address, timeout=max(1.0, end - time.monotonic()), answering=False)
        probe = lab.laptop(["ping", "-n", "-q", "-c", "3", "-i", "0.3", "-W", "1", address])
        if probe.returncode != 0:  # none of three answered
            return
    raise AssertionError(f"{address} kept answering for {timeout:.0f} s")


def _phases(state: dict[str, object]) -> str:
    created = float(state["created"])  # type: ignore[arg-type]
    timings: dict[str, float] = state["timings"]  # type: ignore[assignment]
    return ", ".join(f"{k} {v - created:.1f}" for k, v in sorted(timings.items(),
                                                                  key=lambda kv: kv[1]))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_change_is_caught_in_seconds(netplan_lab: Lab, netplan_box: Box, case: str) -> None:
    text, psk, reason = CASES[case]
    box = netplan_box
    before = profiles(box)
    write_config(box, text, psk=psk)
    t0 = time.monotonic()
    start_apply(box, WINDOW)
    launched = time.monotonic() - t0  # the apply command planned and started the change
    _wait_silent(netplan_lab, OLD)
    gone = time.monotonic() - t0
    netplan_lab.wait_ping(OLD, timeout=120)
    back = time.monotonic() - t0
    state = wait_phase(box, OLD, ("rolled-back", "committed", "failed"), 60)
    recorded = float(state["timings"]["rolled-back"]) - float(state["created"])
    print(f"\n{case}: old address answering again {back:.1f} s after the start (apply "
          f"command back at {launched:.1f} s, old address silent at {gone:.1f} s); box clock "
          f"from the apply command: {_phases(state)}; reason: {state['reason']}")
    for step in state["steps"]:
        if step["name"] == "note" and step["detail"].startswith("verification:"):
            print(f"{case}: {step['at'] - float(state['created']):.1f} {step['detail']}")
    assert (state["outcome"], state["reason"]) == ("rolled-back", reason)
    # Caught by the failure, not by the window's end: verification stopped well inside its
    # 60 s (how long it took is the benchmark's figure, not a test's: CI's emulated box
    # once needed 41 s from the apply command to the rollback, 28 s of them verifying).
    verified_for = float(state["timings"]["rolling-back"]) - float(state["timings"]["verifying"])
    assert verified_for < VERIFY_S - 5, f"caught by the window, not by the failure ({recorded})"
    assert profiles(box) == before
    if back > GOAL_S:
        print(f"{case}: {back:.1f} s is over the {GOAL_S:.0f} s goal")
