"""Failover for the failures that happen (issue 15): a pulled cable and a dead path (the
cable's far end off the LAN, its link kept up), on the seed's bond and on tightrope's with
MII and with the ARP monitor, side by side on one lab box, N faults each.

    sudo flock /tmp/tightrope-lab.lock python3 -m bench.monitor [--faults 10] [--hold 5]

Pings from the laptop every 10 ms. For each fault: the longest silence between the fault and
its repair (the failover outage; the whole hold when nothing failed over), the longest
silence after the repair (fail-back), probes lost, and whether traffic came back before the
repair (recovered). `--kinds flap`: a cable pulled and replugged every second, 4 times per
fault: outages and probes lost (MII's fail-back delay against ARP, which has none).
Writes bench/results/monitor-<UTC>.json; docs/benchmarks.md quotes it.
The box runs under QEMU (TCG here): read the ratios and the interval-bound figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.lab.boxtools import NEW, config_text, install, write_config

from bench.run import bond_state, flap_cable, run_seed, wait_until
from tightrope.lab import Box, Lab
from tightrope.lab.ping import PingResult
from tightrope.remote.zipapp import build

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {
    "seed": None,
    # Named explicitly: which monitor tightrope picks by itself has changed (issue 15).
    "tightrope-mii": "parameters:\n  mii-monitor-interval: 100\n",
    "tightrope-arp": "parameters:\n  arp-interval: 100\n",
    "tightrope-arp50": "parameters:\n  arp-interval: 50\n",
}


def _gap_ms(res: PingResult, start: float, end: float) -> float:
    times = sorted(r.at for r in res.replies if start <= r.at <= end)
    edges = [start, *times, end]
    return max(b - a for a, b in itertools.pairwise(edges)) * 1000


def one_fault(lab: Lab, box: Box, kind: str, hold_s: float) -> dict[str, Any]:
    wait_until(lambda: len(bond_state(box)[1]) == 2, 90)
    if kind == "flap":
        # With the bond's own settings: MII has a fail-back delay (up-delay), ARP has none.
        return flap_cable(lab, box)
    run = lab.start_ping(NEW, seconds=1.5 + hold_s + 5, interval=0.01)
    time.sleep(1.5)
    cut = time.time()
    if kind == "cable":
        box.pull_cable()
    else:
        box.set_path(False)
    time.sleep(hold_s)
    mend = time.time()
    if kind == "cable":
        box.plug_cable()
    else:
        box.set_path(True)
    res = run.result()
    ended = res.ended or time.time()
    failover = _gap_ms(res, cut, mend)
    return {
        "failover_ms": round(failover, 1),
        "failback_ms": round(_gap_ms(res, mend, ended), 1),
        "lost": len(res.lost),
        "recovered": failover < hold_s * 1000 - 50,
    }


def flap_summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "of": len(runs), "flaps_each": 4,
        "outages_median": statistics.median(r["outages"] for r in runs),
        "outages_worst": max(r["outages"] for r in runs),
        "lost_median": statistics.median(r["lost"] for r in runs),
        "lost_worst": max(r["lost"] for r in runs),
        "longest_outage_ms": max((max(r["outage_ms"], default=0) for r in runs), default=0),
    }  # fmt: skip


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    fo = [r["failover_ms"] for r in runs]
    fb = [r["failback_ms"] for r in runs]
    return {
        "recovered": sum(r["recovered"] for r in runs), "of": len(runs),
        "failover_median_ms": statistics.median(fo), "failover_worst_ms": max(fo),
        "failback_median_ms": statistics.median(fb), "failback_worst_ms": max(fb),
        "lost_median": statistics.median(r["lost"] for r in runs),
        "lost_worst": max(r["lost"] for r in runs),
    }  # fmt: skip


def bond_up(box: Box, pyz: Path, extra: str | None, tmp: Path) -> None:
    if extra is None:
        run_seed(box, tmp)
        wait_until(lambda: box.ssh("true", host=NEW, timeout=5).returncode == 0, 120)
        return
    install(box, pyz)
    write_config(box, config_text(extra=extra))
    # Every port verified: the faults that follow need wlan0 in the bond.
    box.ssh("python3 /root/tightrope.pyz apply /root/bond.yaml --yes --no-wait --auto-confirm "
            "--verify-all-ports "
            ">/root/apply.out 2>&1", timeout=60)  # fmt: skip
    wait_until(lambda: "committed" in box.ssh("cat /var/lib/tightrope/txn/*/state.json",
                                              host=NEW, timeout=10).stdout, 180)  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faults", type=int, default=10)
    ap.add_argument("--hold", type=float, default=5.0, help="seconds each fault lasts")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"which bonds, comma-separated (default: {','.join(CONFIGS)})")
    # The dead path first: the seed's bond has no primary, so after a cable pull it stays on
    # wlan0, and a dead path on eth0 would then hit nothing.
    ap.add_argument("--kinds", default="path,cable",
                    help="faults, in order: path, cable, flap (default: path,cable)")
    args = ap.parse_args()
    tmp = Path("/tmp/tightrope-bench")
    tmp.mkdir(exist_ok=True)
    pyz = build(tmp)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "commit": commit,
        "machine": f"{platform.machine()}, {platform.node()}, 2 cores",
        "faults": args.faults, "hold_s": args.hold, "ping_interval_ms": 10,
        "kinds": args.kinds,
    }  # fmt: skip
    with Lab("bench-monitor") as lab:
        box = lab.up("netplan")
        results["accel"] = lab.accel
        box.snapshot("pristine")
        for name in args.configs.split(","):
            extra = CONFIGS[name]
            box.restore("pristine")
            bond_up(box, pyz, extra, tmp)
            entry: dict[str, Any] = {}
            for kind in args.kinds.split(","):
                runs = [one_fault(lab, box, kind, args.hold) for _ in range(args.faults)]
                sums = flap_summary(runs) if kind == "flap" else summary(runs)
                entry[kind] = {"runs": runs, **sums}
                print(name, kind, json.dumps(sums), flush=True)
            results[name] = entry
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"monitor-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"results: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
