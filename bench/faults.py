"""The fault matrix (issue 16 item 7), measured in the lab: one fault at one phase of a change.

    sudo flock /tmp/tightrope-lab.lock timeout 900 \\
        python3 -m bench.faults --cells awaiting-confirm:sigkill,verification:nm-restart

One lab box in the netplan start state, with the zipapp, a bond config (tests/lab/boxtools) and
the injector (bench/fault_inject.py) put on it and saved as a snapshot; every cell starts
from that snapshot (loadvm). Per cell: the injector waits on the box for the phase and
injects the fault; `apply --no-wait` starts the change (confirm window 60 s, verification
60 s). The bench then plays the admin: it looks for the box at the new address (.64), the old
one (.50) and Wi-Fi's (.51); when the change awaits confirmation and the new address answers,
it confirms from there (as a person would; the faults that need a confirmation to be reached,
persisting and editing netplan, are confirmed by the injector at once); when the runner is
gone it runs `tightrope status` as root, which ends the transaction with its reason. A cell
ends when the transaction has ended and the box answers at a working address, or after
--cell-timeout. Recorded per cell: the outcome and its reason, what `status --json` said
(`last`, `pending`), seconds from the fault until the box answered at the address it ended
at, and whether a profile or a netplan byte was lost: every profile (uuid, settings, secrets)
and every /etc/netplan file's bytes against the start (rolled back) or against a clean
confirmed run, the "none" cell, made first (committed; profiles compared by name, the new
ones' uuids being new each time).

Writes bench/results/faults-<UTC time>.json. `--table FILE...` prints the markdown table of
docs/reliability.md from result files. Needs root; stops starting cells after --budget
seconds so a locked run leaves the lab to others in time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.lab.boxtools import NEW, OLD, PYZ, config_text, try_ssh, write_config

from bench.fault_world import lost, world
from bench.journey import code_measured, load
from tightrope.lab import Box, Lab
from tightrope.remote.zipapp import build

ROOT = Path(__file__).resolve().parents[1]
WLAN = "198.18.1.51"
PHASES = ("planning", "checkpoint", "activation", "verification", "awaiting-confirm",
          "persisting", "editing-netplan")  # fmt: skip
FAULTS = ("sigkill", "ssh-cut", "nm-restart", "power-cut", "disk-full", "ap-down", "cable",
          "second-apply", "clock-jump")  # fmt: skip
INJECTOR = "/root/fault_inject.py"
SNAP = "faults"
# Where each outcome leaves the box: committed at the new address, anything else at the old
# ones (Wi-Fi's when the cable is out).
WORKING: dict[str | None, tuple[str, ...]] = {"committed": (NEW,)}
SSH_CUT_S = 15.0  # how long the laptop's link stays down for "ssh-cut"
STATE = ("d=/var/lib/tightrope/txn; i=$(ls $d 2>/dev/null | tail -1); "
         "[ -n \"$i\" ] && cat $d/$i/state.json; echo; echo \"unit=$(systemctl is-active "
         "\"tightrope-txn-$i.*\" 2>/dev/null)\"")  # fmt: skip


def say(msg: str) -> None:
    print(f"[faults] {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# --- one cell -------------------------------------------------------------------------


class Console:
    """Lines the box's injector writes to the serial console, as they arrive."""

    def __init__(self, path: Path) -> None:
        self.path, self.offset = path, path.stat().st_size if path.exists() else 0

    def lines(self) -> list[str]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                data = fh.read()
        except OSError:
            return []
        return [ln.strip() for ln in data.decode(errors="replace").splitlines()
                if ln.startswith("TRFAULT ")]  # fmt: skip


class Watcher(threading.Thread):
    """Reads the console every 20 ms and makes the host's fault the moment the box asks: the
    main loop's SSH polls take seconds, longer than the short phases last."""

    def __init__(self, console: Console, lab: Lab, box: Box, fault: str) -> None:
        super().__init__(daemon=True)
        self.console, self.lab, self.box, self.fault = console, lab, box, fault
        self.hit: float | None = None
        self.action = ""
        self.missed = ""
        self.stop = False
        if fault != "none":
            self.start()

    def run(self) -> None:
        while not self.stop and self.hit is None:
            for line in self.console.lines():
                if line.startswith("TRFAULT hit") and self.hit is None:
                    at = time.monotonic()
                    self.action = host_fault(self.lab, self.box, self.fault)
                    self.hit = at  # last: the main loop reads the action once this is set
                if line.startswith("TRFAULT missed"):
                    self.missed = line
                    return
            time.sleep(0.02)


def host_fault(lab: Lab, box: Box, fault: str) -> str:
    if fault == "power-cut":
        box.power_cut()
        return "QEMU quit (power cut) and started again"
    if fault == "cable":
        box.pull_cable()
        return "cable pulled (stays out until the cell ends)"
    if fault == "ssh-cut":
        lan = lab.topology.lan_ns
        subprocess.run(["ip", "-n", lan, "link", "set", "laptop0", "down"], check=True)

        def back() -> None:
            time.sleep(SSH_CUT_S)
            subprocess.run(["ip", "-n", lan, "link", "set", "laptop0", "up"], check=False)

        threading.Thread(target=back, daemon=True).start()
        return f"the laptop's link down for {SSH_CUT_S:.0f} s"
    return ""


def find(lab: Lab, box: Box) -> tuple[str | None, dict[str, Any] | None, str]:
    """Where the box answers and its newest transaction's state (None if there is none).
    A ping first: an SSH attempt at a silent address costs its 5 s connect timeout."""
    for host in (NEW, OLD, WLAN):
        if lab.laptop(["ping", "-c1", "-W1", "-q", host], timeout=5).returncode != 0:
            continue
        cp = try_ssh(box, STATE, host, timeout=10)
        if cp.returncode == 0:
            text, _, unit = cp.stdout.rpartition("unit=")
            st = json.loads(text) if text.strip() else None
            return host, st, unit.strip()
    return None, None, ""


def judge(c: dict[str, Any]) -> str:
    """A cell is right when the change ended (or never began), the box answers where that
    outcome puts it, and nothing was lost."""
    outcome = (c.get("txn") or {}).get("outcome")
    ok = (c.get("answered_at") in WORKING.get(outcome, (OLD, WLAN)) and not c.get("lost")
          and (c.get("txn") is None or outcome is not None) and not c.get("timed_out"))
    return "ok" if ok else "BUG"


def settled(seen: list[tuple[float, str | None]], host: str | None,
            t_fault: float | None) -> float | None:
    """Seconds from the fault until the box answered, for good, where it ended: the start
    of the last unbroken run of answers at that address."""
    if t_fault is None or host is None:
        return None
    first = None
    for when, where in reversed(seen):
        if where != host:
            break
        first = when
    return None if first is None else round(first - t_fault, 1)


def cell(lab: Lab, box: Box, phase: str, fault: str, timeout: float,
         start: dict[str, Any], committed: dict[str, Any] | None) -> dict[str, Any]:  # fmt: skip
    say(f"cell {phase} x {fault}")
    res: dict[str, Any] = {"phase": phase, "fault": fault, "load": load()}
    box.restore(SNAP)
    if fault == "disk-full":
        box.ssh("mkdir -p /var/lib/tightrope && mount -t tmpfs -o size=1m,mode=0700 tl "
                "/var/lib/tightrope", check=True)  # fmt: skip
    console = Console(box.files.console)
    if fault != "none":
        box.ssh(f"rm -f /run/trfault.log; systemd-run --quiet --collect --unit=trfault "
                f"python3 {INJECTOR} {phase} {fault}", check=True)  # fmt: skip
        for _ in range(60):
            if "ready" in box.ssh("cat /run/trfault.log 2>/dev/null").stdout:
                break
            time.sleep(0.5)
    watcher = Watcher(console, lab, box, fault)
    t0 = time.monotonic()
    applier = subprocess.Popen(
        [*box.ssh_argv(OLD), f"python3 {PYZ} apply /root/bond.yaml --yes --no-wait "
         "--confirm-timeout 60 --verify-timeout 60 > /root/apply.out 2>&1; echo rc=$?"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    t_fault: float | None = None if fault != "none" else t0
    seen: list[tuple[float, str | None]] = []  # (when, where it answered) after the fault
    host: str | None = None
    st: dict[str, Any] | None = None
    confirmed = False
    while time.monotonic() - t0 < timeout:
        if t_fault is None and watcher.hit is not None:
            t_fault = watcher.hit
            res["fault_at_s"] = round(t_fault - t0, 1)
            res["host_action"] = watcher.action
        if watcher.missed:
            res["missed"] = watcher.missed
        host, st, unit = find(lab, box)
        if t_fault is not None:
            seen.append((time.monotonic(), host))
        if host is None:
            time.sleep(0.5)
            continue
        over = t_fault is not None or "missed" in res
        outcome = st.get("outcome") if st else None
        # Over when the change has ended and the box answers where that outcome puts it
        # (a runner killed is recorded at once, NetworkManager's rollback comes later).
        if outcome and over and host in WORKING.get(outcome, (OLD, WLAN)):
            break
        if st is None and applier.poll() is not None and over and host in (OLD, WLAN):
            break  # no transaction was made (a fault while planning) and the command is over
        if st is not None and not outcome and unit != "active" and st.get("runner_pid"):
            # The runner is gone (killed, rebooted): the admin asks status, which ends it;
            # with a full disk, tells it, and records it once the admin has made room.
            told = box.ssh(f"python3 {PYZ} status --json", host=host, timeout=120)
            if fault == "disk-full" and "told_full" not in res:
                res["told_full"] = told.stdout[-3000:]
                box.ssh("rm -f /var/lib/tightrope/fill", host=host, timeout=30)
            continue
        ready = t_fault is not None and time.monotonic() - t_fault > 5
        if (st and st.get("phase") == "awaiting-confirm" and host == NEW and ready
                and not confirmed):  # fmt: skip
            confirmed = True
            cp = try_ssh(box, f"python3 {PYZ} confirm --json", NEW, timeout=150)
            res["confirm_exit"] = cp.returncode
        time.sleep(1)
    else:
        res["timed_out"] = True
    watcher.stop = True
    res["seconds"] = round(time.monotonic() - t0, 1)
    try:
        res["apply_exit"] = applier.communicate(timeout=5)[0].strip()
    except subprocess.TimeoutExpired:
        applier.kill()
        res["apply_exit"] = "still running"
    res["answered_at"] = host
    res["answered_s"] = settled(seen, host, t_fault)
    res["txn"] = {k: st.get(k) for k in ("id", "phase", "outcome", "reason")} if st else None
    if st:  # when each phase began (the box's wall clock): how long the phases last
        res["timings"] = {k: round(v - st["created"], 2) for k, v in st["timings"].items()}
    if host is None:
        res["verdict"] = "UNREACHABLE"
        return res
    cp = box.ssh(f"python3 {PYZ} status --json; echo; cat /run/trfault.log", host=host,
                 timeout=120)  # fmt: skip
    doc = cp.stdout.strip()
    try:
        dec, end = json.JSONDecoder().raw_decode(doc)
        res["status"] = {"exit": cp.returncode, "pending": dec.get("pending"),
                         "last": dec.get("last")}  # fmt: skip
        res["injector"] = doc[end:].strip().splitlines()
    except ValueError:
        res["status"] = {"exit": cp.returncode, "raw": cp.stdout[-1500:] + cp.stderr[-1500:]}
    now = world(box, host)
    outcome = (st or {}).get("outcome")
    if outcome == "committed" and fault == "none":
        res["lost"] = []  # this is the clean confirmed run the others are compared with
    elif outcome == "committed" and committed is not None:
        res["lost"] = lost(committed, now, named=True)
    elif outcome == "committed":
        res["lost"] = ["(no clean committed run to compare with)"]
    else:
        res["lost"] = lost(start, now, named=False)
    res["verdict"] = judge(res)
    say(f"  -> {outcome} at {host} after {res['answered_s']} s, lost {res['lost'] or 'nothing'}"
        f" ({res['verdict']})")
    return res


# --- the run --------------------------------------------------------------------------


def measure(cells: list[tuple[str, str]], args: argparse.Namespace, out: Path) -> dict[str, Any]:
    res: dict[str, Any] = {
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "code": code_measured(),
        "machine": {"arch": platform.machine(), "cores": os.cpu_count()},
        "load_at_start": load(), "cells": [],
    }  # fmt: skip
    t_run = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tightrope-faults-") as tmp, \
            Lab(f"faults{os.getpid() % 10000}") as lab:  # fmt: skip
        box = lab.up("netplan")
        res["accel"] = lab.accel
        res["boot_s"] = round(time.monotonic() - t_run, 1)
        box.put(build(Path(tmp)), PYZ)
        box.put(Path(__file__).with_name("fault_inject.py"), INJECTOR)
        write_config(box, config_text())
        box.snapshot(SNAP)
        start = world(box, OLD)
        committed = None
        for phase, fault in [("awaiting-confirm", "none"), *cells]:
            if time.monotonic() - t_run > args.budget:
                res["not_run"] = [f"{p}:{f}" for p, f in cells if not any(
                    c["phase"] == p and c["fault"] == f for c in res["cells"])]  # fmt: skip
                say(f"budget spent: left {res['not_run']}")
                break
            try:
                r = cell(lab, box, phase, fault, args.cell_timeout, start, committed)
            except Exception as exc:  # one broken cell must not lose the others' figures
                r = {"phase": phase, "fault": fault, "verdict": "ERROR", "error": repr(exc)}
                with contextlib.suppress(Exception):
                    box.stop()
                    box.start()
                    box.wait_ssh()
            res["cells"].append(r)
            if fault == "none" and r.get("verdict") == "ok":
                committed = world(box, NEW)
            out.write_text(json.dumps(res, indent=2) + "\n")  # what is measured is kept
    res["load_at_end"] = load()
    return res


def table(paths: list[Path]) -> str:
    rows = ["| phase | fault | outcome | answered (s) | at | lost | verdict | code |",
            "|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for path in paths:
        run = json.loads(path.read_text())
        code = run["code"]["commit"][:7] + ("+" if run["code"].get("dirty_src") else "")
        for c in run["cells"]:
            if c["fault"] == "none":
                continue
            txn = c.get("txn") or {}
            outcome = txn.get("outcome") or (f"none recorded ({txn['phase']})" if txn else
                                             "no transaction" if "txn" in c else "?")
            secs = "" if c.get("answered_s") is None else f"{c['answered_s']:.0f}"
            real = [x for x in c.get("lost", []) if not x.endswith(".{seen-bssids} differ")]
            lost_ = "; ".join(real) or "nothing"
            verdict = c["verdict"] if c["verdict"] == "ERROR" else judge({**c, "lost": real})
            rows.append(f"| {c['phase']} | {c['fault']} | {outcome} | {secs} | "
                        f"{c.get('answered_at') or ''} | {lost_} | {verdict} | "
                        f"{code} |")  # fmt: skip
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cells", default="", help="PHASE:FAULT,... (phases: "
                    + ", ".join(PHASES) + "; faults: " + ", ".join(FAULTS) + ")")  # fmt: skip
    ap.add_argument("--budget", type=float, default=720, help="start no cell after (s)")
    ap.add_argument("--cell-timeout", type=float, default=240)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--table", nargs="*", metavar="FILE")
    args = ap.parse_args()
    if args.table is not None:
        print(table([Path(p) for p in args.table]))
        return 0
    cells = []
    for item in filter(None, args.cells.split(",")):
        phase, _, fault = item.partition(":")
        if phase not in PHASES or fault not in FAULTS:
            ap.error(f"unknown cell {item!r}")
        cells.append((phase, fault))
    if os.geteuid() != 0:
        ap.error("needs root (the lab's namespaces)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"faults-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    measure(cells, args, path)
    print(table([path]))
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
