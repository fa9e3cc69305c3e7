"""A bad change, caught: the remote journey's own figures, in one lab run (issue 18 item 1).

    sudo python -m bench.failfast [--out bench/results] [--label L] [--runs N]

The journey the issue measured (94 s for a wrong PSK): `tightrope bond ... --host
root@198.18.1.50 --yes --json --verify-all-ports` from the laptop namespace, with one thing
wrong each time, on one netplan lab box restored to the same snapshot before each run. Per
run: start -> the old address answers again (20 ms pings from the laptop, `ping -D`: the first
reply after the outage), start -> the command exits, its exit code and the reason it gives.
The lab tests (tests/lab/test_failfast_lab.py) assert the reasons; this prints the times.
Writes bench/results/failfast-<label>-<UTC time>.json. Needs root.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.lab.boxtools import OLD
from tests.lab.test_remote_lab import _config, _events, _laptop_argv

from bench.journey import bond_args, code_measured, forget_new_address, load, runner_steps, say
from tightrope.lab import Lab

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 25.0
WRONG_PSK = "not-the-lab-passphrase"
# case -> (flags replacing the journey's, PSK file content or None for the lab's)
CASES: dict[str, tuple[dict[str, str], str | None]] = {
    "wrong-psk": ({}, WRONG_PSK),
    "absent-ssid": ({"--ssid": "NoSuchNetwork"}, None),
    "wrong-gateway": ({"--gateway": "198.18.1.254"}, None),
    "address-in-use": ({"--address": "198.18.1.10/24"}, None),  # the laptop's own
}


def _args(psk_file: Path, flags: dict[str, str]) -> list[str]:
    argv = bond_args(psk_file)
    for flag, value in flags.items():
        argv[argv.index(flag) + 1] = value
    return [*argv, "--verify-all-ports"]


def back_at(replies: list[float], t0: float) -> float | None:
    """The first reply after the longest silence (the change's outage), from t0."""
    times = sorted(replies)
    if len(times) < 2:
        return None
    gaps = [(b - a, b) for a, b in itertools.pairwise(times)]
    gap, after = max(gaps)
    return round(after - t0, 2) if gap > 1.0 else None


def one(lab: Lab, box: Any, tmp: Path, case: str) -> dict[str, Any]:
    flags, psk = CASES[case]
    psk_file = tmp / "wlan0.psk"
    if psk is not None:
        psk_file = tmp / "wrong.psk"
        psk_file.write_text(psk)
        psk_file.chmod(0o600)
    say(case)
    box.restore("warm")
    forget_new_address(lab)
    argv = _laptop_argv(lab, box, *_args(psk_file, flags))
    ping = lab.start_ping(OLD, 240, 0.02)
    t0 = time.time()
    lines: list[tuple[float, str]] = []  # each line of --json as it came, with its time
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as proc:  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        for line in proc.stdout:
            lines.append((time.time() - t0, line))
        stderr = proc.stderr.read()
        code = proc.wait(timeout=600)
    exit_s = time.time() - t0
    time.sleep(2)  # the old address's replies after the exit, if it came back only then
    replies = [r.at for r in ping.stop().replies]
    stdout = "".join(line for _, line in lines)
    summaries = [e for e in _events(stdout) if e.get("event") == "summary"]
    result = summaries[0]["results"][0] if summaries else {}
    reason = result.get("reason", "")
    # The laptop's first word of the reason (a "rolling-back" event said before the box's
    # address moved back, or the summary).
    shown = next((round(t, 2) for t, line in lines if reason and reason in line), None)
    return {
        "case": case,
        "old_answers_again_s": back_at(replies, t0),
        "reason_shown_s": shown,
        "exit_s": round(exit_s, 2),
        "exit_code": code,
        "outcome": result.get("outcome"),
        "reason": reason or stderr[-500:],
        "load": load(),
        # The runner's own record (state.json): where the seconds went on the box.
        "steps": runner_steps(box, OLD, t0),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--label", default="now")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    res: dict[str, Any] = {"label": args.label, "code": code_measured(),
                           "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                           "cores": os.cpu_count(), "runs": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, Lab(f"failfast{os.getpid() % 10000}") as lab:
        _config(Path(tmp))  # writes the lab's 0600 PSK file beside it
        box = lab.up("netplan")
        res["accel"] = lab.accel
        status = _laptop_argv(lab, box, "status", "--host", f"root@{OLD}")
        subprocess.run(status, capture_output=True, timeout=600, check=True)  # ships the zipapp
        box.snapshot("warm")
        for _ in range(args.runs):
            for case in args.cases.split(","):
                res["runs"].append(one(lab, box, Path(tmp), case))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = Path(args.out) / f"failfast-{args.label}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    for case in args.cases.split(","):
        runs = [r for r in res["runs"] if r["case"] == case]
        back = [r["old_answers_again_s"] for r in runs if r["old_answers_again_s"] is not None]
        print(f"{case}: old address back {back} s (median "
              f"{statistics.median(back) if back else '-'}; goal {GOAL_S:.0f}), reason shown "
              f"{[r['reason_shown_s'] for r in runs]} s, exit "
              f"{[r['exit_s'] for r in runs]} s, codes {[r['exit_code'] for r in runs]}; "
              f"{runs[0]['outcome']}: {runs[0]['reason']}")
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
