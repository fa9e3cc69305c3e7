"""The benchmark suite: the seed script's bond and tightrope's, side by side, on one lab box.

    sudo python -m bench.run [--pulls 10] [--out bench/results]

Measures, with pings from the laptop namespace: the apply outage (old address silent until the
new one answers), the cable-pull outage (10 ms probes; median and worst of N), the cable-return
outage and which port carries traffic afterwards, the recovery from a wrong PSK, and
`tightrope status` latency against `nmcli device status`. Writes a JSON file and
docs/benchmarks.md. The VM is software-emulated here: absolute times inflate; read the
ratios and the miimon-bound figures.
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from tests.lab.boxtools import NEW, OLD, config_text, install, write_config
from tests.lab.seedrun import SEED_SCRIPT, wait_for

from tightrope.lab import Box, Lab
from tightrope.remote.zipapp import build

ROOT = Path(__file__).resolve().parents[1]


def wait_until(check: Any, timeout: float, step: float = 0.5) -> float:
    return wait_for("the box", check, timeout, step)


def bond_state(box: Box) -> tuple[str | None, list[str]]:
    text = box.ssh("cat /proc/net/bonding/bond0", host=NEW, timeout=20).stdout
    active = None
    up = []
    port = None
    for line in text.splitlines():
        if line.startswith("Currently Active Slave:"):
            active = line.split(":", 1)[1].strip()
        elif line.startswith("Slave Interface:"):
            port = line.split(":", 1)[1].strip()
        elif line.startswith("MII Status:") and port and "up" in line:
            up.append(port)
    return active, up


def apply_outage(lab: Lab, box: Box, start: Any) -> dict[str, float]:
    """Old address silent -> new address answering, seen from the laptop."""
    old = lab.start_ping(OLD, seconds=60, interval=0.05)
    new = lab.start_ping(NEW, seconds=60, interval=0.05)
    time.sleep(1)
    t0 = time.time()
    start()
    wait_until(lambda: box.ssh("true", host=NEW, timeout=5).returncode == 0, 90)
    old_r, new_r = old.stop(), new.stop()
    last_old = max((r.at for r in old_r.replies if r.at >= t0 - 1), default=t0)
    first_new = new_r.first_reply_after(t0) or time.time()
    return {
        "old_silent_after_s": round(last_old - t0, 2),
        "new_answers_after_s": round(first_new - t0, 2),
        "outage_s": round(max(0.0, first_new - last_old), 2),
    }


def cable_cycles(lab: Lab, box: Box, pulls: int) -> dict[str, Any]:
    pull_ms, back_ms, after = [], [], []
    for _ in range(pulls):
        wait_until(lambda: len(bond_state(box)[1]) == 2, 60)
        run = lab.start_ping(NEW, seconds=5, interval=0.01)
        time.sleep(1.5)
        t = time.time()
        box.pull_cable()
        res = run.result()
        pull_ms.append(round(res.longest_gap_ms(), 1))
        run = lab.start_ping(NEW, seconds=6, interval=0.01)
        time.sleep(1.5)
        box.plug_cable()
        res = run.result()
        back_ms.append(round(res.longest_gap_ms(), 1))
        time.sleep(1)
        after.append(bond_state(box)[0])
        del t
    return {
        "pull_outage_ms": pull_ms, "pull_median_ms": statistics.median(pull_ms),
        "pull_worst_ms": max(pull_ms), "return_outage_ms": back_ms,
        "return_median_ms": statistics.median(back_ms), "active_after_return": after,
    }  # fmt: skip


def flapping_cable(lab: Lab, box: Box, updelay_ms: int, flaps: int = 4) -> dict[str, Any]:
    """A cable that comes and goes every second (reported on Pi 4 eth0): how many outages and
    probes lost with this up-delay. Set at runtime through sysfs; the profile is untouched."""
    wait_until(lambda: len(bond_state(box)[1]) == 2, 60)
    box.ssh(f"echo {updelay_ms} > /sys/class/net/bond0/bonding/updelay", host=NEW, check=True)
    run = lab.start_ping(NEW, seconds=2 + flaps * 2 + 4, interval=0.01)
    time.sleep(2)
    for _ in range(flaps):
        box.pull_cable()
        time.sleep(1)
        box.plug_cable()
        time.sleep(1)
    res = run.result()
    times = sorted(r.at for r in res.replies)
    outages = [round((b - a) * 1000) for a, b in itertools.pairwise(times) if b - a > 0.05]
    box.ssh("echo 0 > /sys/class/net/bond0/bonding/updelay", host=NEW)
    return {
        "updelay_ms": updelay_ms,
        "outages": len(outages),
        "outage_ms": outages,
        "lost": len(res.lost),
        "sent": res.transmitted,
    }


def run_seed(box: Box, tmp: Path) -> None:
    script = tmp / "seed.sh"
    script.write_text(SEED_SCRIPT)
    box.put(script, "/root/seed.sh")
    box.ssh("systemd-run --quiet --collect --unit=tightrope-seed bash /root/seed.sh", timeout=30)


def run_tightrope(box: Box, pyz: Path, psk: str | None = None, extra: str = "") -> None:
    install(box, pyz)
    if psk is None:
        write_config(box, config_text())
    else:
        write_config(box, config_text(), psk=psk)
    box.ssh(f"python3 /root/tightrope.pyz apply /root/bond.yaml --yes --no-wait {extra} "
            ">/root/apply.out 2>&1", timeout=60)  # fmt: skip


def wrong_psk_recovery(lab: Lab, box: Box, pyz: Path) -> dict[str, Any]:
    t0 = time.time()
    run_tightrope(box, pyz, psk="not-the-lab-passphrase", extra="--confirm-timeout 30")
    went = wait_until(lambda: box.ssh("true", timeout=4).returncode != 0, 60, 0.2)
    back = wait_until(lambda: box.ssh("true", timeout=4).returncode == 0, 240, 0.5)
    state = box.ssh("d=/var/lib/tightrope/txn; cat $d/$(ls $d | tail -1)/state.json").stdout
    reason = json.loads(state).get("reason", "")
    return {
        "old_address_back_after_s": round(time.time() - t0, 1),
        "silent_s": round(back, 1),
        "went_silent_after_s": round(went, 1),
        "reason": reason,
    }


def status_latency(box: Box, pyz: Path, n: int = 5) -> dict[str, float]:
    install(box, pyz)
    script = (f"for i in $(seq {n}); do s=$(date +%s.%N); python3 /root/tightrope.pyz status "
              ">/dev/null; e=$(date +%s.%N); echo T $s $e; s=$(date +%s.%N); nmcli device "
              "status >/dev/null; e=$(date +%s.%N); echo N $s $e; done")  # fmt: skip
    out = box.ssh(script, timeout=300).stdout
    t = [float(e) - float(s) for k, s, e in (ln.split() for ln in out.splitlines()) if k == "T"]
    m = [float(e) - float(s) for k, s, e in (ln.split() for ln in out.splitlines()) if k == "N"]
    return {
        "tightrope_status_median_s": round(statistics.median(t), 3),
        "nmcli_device_status_median_s": round(statistics.median(m), 3),
        "ratio": round(statistics.median(t) / statistics.median(m), 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pulls", type=int, default=10)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()
    tmp = Path("/tmp/tightrope-bench")
    tmp.mkdir(exist_ok=True)
    pyz = build(tmp)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.node()}, 2 cores",
    }
    with Lab("bench") as lab:
        t0 = time.monotonic()
        box = lab.up("netplan")
        results["accel"] = lab.accel
        results["boot_s"] = round(time.monotonic() - t0, 1)
        box.snapshot("pristine")
        for name, start in (
            ("seed", lambda: run_seed(box, tmp)),
            ("tightrope", lambda: run_tightrope(box, pyz, extra="--auto-confirm")),
        ):
            box.restore("pristine")
            entry: dict[str, Any] = {"apply": apply_outage(lab, box, start)}
            if name == "tightrope":
                wait_until(
                    lambda: (
                        "committed"
                        in box.ssh("cat /var/lib/tightrope/txn/*/state.json", host=NEW).stdout
                    ),
                    120,
                )
            entry["cable"] = cable_cycles(lab, box, args.pulls)
            if name == "tightrope":
                entry["flapping"] = [flapping_cable(lab, box, d) for d in (0, 2000)]
            results[name] = entry
            print(name, json.dumps(entry, indent=1), flush=True)
        box.restore("pristine")
        results["wrong_psk"] = {
            "tightrope": wrong_psk_recovery(lab, box, pyz),
            "seed": "never: the seed has no rollback; its bond comes up "
            "on eth0 alone and nothing notices Wi-Fi never joined",
        }
        box.restore("pristine")
        results["cli"] = status_latency(box, pyz)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    (ROOT / "docs" / "benchmarks.md").write_text(render_markdown(results))
    print(f"results: {path}")
    return 0


def render_markdown(r: dict[str, Any]) -> str:
    s, t = r["seed"], r["tightrope"]
    rows = [
        ("apply outage (old silent -> new answers)", f"{s['apply']['outage_s']} s",
         f"{t['apply']['outage_s']} s"),
        ("new address answers after start", f"{s['apply']['new_answers_after_s']} s",
         f"{t['apply']['new_answers_after_s']} s"),
        ("cable pull outage, median / worst", f"{s['cable']['pull_median_ms']} / "
         f"{s['cable']['pull_worst_ms']} ms", f"{t['cable']['pull_median_ms']} / "
         f"{t['cable']['pull_worst_ms']} ms"),
        ("cable return outage, median", f"{s['cable']['return_median_ms']} ms",
         f"{t['cable']['return_median_ms']} ms"),
        ("port carrying traffic after the cable returns",
         ", ".join(sorted(set(map(str, s['cable']['active_after_return'])))),
         ", ".join(sorted(set(map(str, t['cable']['active_after_return']))))),
        ("wrong PSK: old address answers again after", "never (no rollback)",
         f"{r['wrong_psk']['tightrope']['old_address_back_after_s']} s"),
    ]  # fmt: skip
    lines = [
        "# Benchmarks", "",
        f"Run {r['date']} on {r['machine']}; the lab VM ran under **{r['accel']}** "
        "(software emulation inflates absolute times: read the ratios and the "
        "miimon-bound figures). Produced by `sudo python -m bench.run`; raw JSON in "
        "bench/results/.", "",
        "| | seed script | tightrope |", "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows], "",
        f"`tightrope status` takes {r['cli']['tightrope_status_median_s']} s on the box against "
        f"{r['cli']['nmcli_device_status_median_s']} s for `nmcli device status` "
        f"(ratio {r['cli']['ratio']}; tightrope runs from its zipapp with pure-Python D-Bus and "
        "reads every profile, the scan list and the bonding state).", "",
        f"Wrong PSK with tightrope: {r['wrong_psk']['tightrope']['reason']}", "",
        "## A flapping cable (pulled and replugged every second, 4 times)", "",
        "| up-delay | outages | probes lost |", "|---|---|---|",
        *[f"| {f['updelay_ms']} ms | {f['outages']} | {f['lost']} of {f['sent']} |"
          for f in t.get("flapping", [])], "",
    ]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
