"""Runs ON THE LAB BOX (shipped by bench/faults.py): wait for a phase of the next transaction,
then inject one fault, at once, from the box itself.

    python3 fault_inject.py PHASE FAULT

Started as a transient unit before the apply, so it outlives SSH sessions and the address
moving. It polls the newest transaction's state file every 50 ms (an SSH poll from the laptop
takes a second or more under TCG and loses the connection at activation, so it would miss the
short phases). Faults that only the host can make (power cut, cable, the laptop's link) are
asked for on the serial console, which the host reads from its file as the box writes it.
Everything it does is logged with CLOCK_BOOTTIME to /run/trfault.log. Standard library only:
the box's python3 runs it as is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

ROOT = "/var/lib/tightrope"
LOG = "/run/trfault.log"
PYZ = "/root/tightrope.pyz"
HOST_SIDE = ("power-cut", "cable", "ssh-cut")
# (phase in state.json, or a special test) for each phase of the matrix
WANT = {
    "activation": "activating",
    "verification": "verifying",
    "awaiting-confirm": "awaiting-confirm",
    "persisting": "committing",
    "editing-netplan": "finishing",
}


def log(msg: str) -> None:
    with open(LOG, "a") as fh:
        fh.write(f"{time.clock_gettime(time.CLOCK_BOOTTIME):.3f} {msg}\n")


def console(msg: str) -> None:
    # The host tails the serial console's file; a line of its own so it is never split.
    with open("/dev/ttyS0", "w") as tty:
        tty.write(f"\nTRFAULT {msg}\n")


def txn_ids() -> list[str]:
    try:
        return sorted(os.listdir(ROOT + "/txn"))
    except OSError:
        return []


def state(txn_id: str) -> dict[str, Any] | None:
    try:
        with open(f"{ROOT}/txn/{txn_id}/state.json") as fh:
            data: dict[str, Any] = json.load(fh)
            return data
    except (OSError, ValueError):
        return None


def apply_pids() -> list[int]:
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if PYZ.encode() in argv and b"apply" in argv:
            out.append(int(pid))
    return out


def reached(phase: str, known: set[str], since: dict[str, float]
            ) -> tuple[str | None, bool]:  # fmt: skip
    """(txn id or None, True) once `phase` is reached."""
    new = [i for i in txn_ids() if i not in known]
    if phase == "planning":
        # The apply command runs and has not made its transaction yet: it is reading the box
        # and planning (after Python's own start, about 2 s of the zipapp under TCG).
        pids = apply_pids()
        if pids and not new:
            since.setdefault("t", time.monotonic())
            return None, time.monotonic() - since["t"] >= 2.0
        return None, False
    if not new:
        return None, False
    s = state(new[-1])
    if s is None:
        return new[-1], False
    if phase == "checkpoint":
        names = [st["name"] for st in s.get("steps", [])]
        return new[-1], s.get("phase") == "running" and "checkpoint" in names
    if phase in ("persisting", "editing-netplan") and s.get("phase") == "awaiting-confirm":
        # These phases come only after a confirmation: give it from here, at once.
        flag = f"{ROOT}/txn/{new[-1]}/confirm"
        if not os.path.exists(flag):
            with open(flag, "w") as fh:
                fh.write(str(time.time()))
            log("confirmed (to reach " + phase + ")")
    return new[-1], s.get("phase") == WANT[phase]


def inject(fault: str, txn_id: str | None) -> str:
    if fault in HOST_SIDE:
        console(f"{fault} {txn_id}")
        return "asked the host"
    if fault == "sigkill":
        if txn_id is None:
            for pid in apply_pids():
                os.kill(pid, 9)
            return "killed the apply command"
        # A scope when forked from the agent or the CLI, a service when started fresh.
        cp = subprocess.run(["systemctl", "kill", "-s", "KILL", f"tightrope-txn-{txn_id}.*"],
                            capture_output=True, text=True)
        return f"systemctl kill: {cp.returncode} {cp.stderr.strip()}"
    if fault == "nm-restart":
        cp = subprocess.run(["systemctl", "restart", "NetworkManager"], capture_output=True,
                            text=True)
        return f"restart: {cp.returncode} {cp.stderr.strip()}"
    if fault == "disk-full":
        with open(ROOT + "/fill", "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError as exc:
                return f"filled: {exc.strerror}"
    if fault == "ap-down":
        cp = subprocess.run(["systemctl", "stop", "tightrope-lab-ap.service"],
                            capture_output=True, text=True)
        return f"stop AP: {cp.returncode} {cp.stderr.strip()}"
    if fault == "clock-jump":
        time.clock_settime(time.CLOCK_REALTIME, time.time() + 3600)
        return "wall clock +3600 s"
    if fault == "second-apply":
        cp = subprocess.run(["python3", PYZ, "apply", "/root/bond.yaml", "--yes", "--no-wait"],
                            capture_output=True, text=True, timeout=120)
        tail = (cp.stdout + cp.stderr).strip().splitlines()[-2:]
        return f"second apply exit {cp.returncode}: {' | '.join(tail)}"
    return f"unknown fault {fault}"


def main() -> int:
    phase, fault = sys.argv[1], sys.argv[2]
    known = set(txn_ids())
    since: dict[str, float] = {}
    log(f"ready {phase} {fault}")
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        txn_id, hit = reached(phase, known, since)
        if hit:
            console(f"hit {phase} {txn_id}")  # the host times the fault from this line
            log(f"hit {phase} txn {txn_id}")
            log("done: " + inject(fault, txn_id))
            return 0
        if txn_id is not None:
            s = state(txn_id)
            if s is not None and s.get("outcome"):
                log(f"missed {phase}: the transaction ended {s['outcome']} first")
                console(f"missed {phase} {txn_id}")
                return 1
        time.sleep(0.05)
    log("missed: timeout")
    console(f"missed {phase} timeout")
    return 1


if __name__ == "__main__":
    sys.exit(main())
