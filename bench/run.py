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

from bench.report import render_markdown
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
    flapped = flap_cable(lab, box, flaps)
    box.ssh("echo 0 > /sys/class/net/bond0/bonding/updelay", host=NEW)
    return {"updelay_ms": updelay_ms, **flapped}


def flap_cable(lab: Lab, box: Box, flaps: int = 4) -> dict[str, Any]:
    """Pulls and replugs eth0 every second, `flaps` times, under 10 ms pings: the outages
    (silences over 50 ms), probes lost and sent."""
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
    return {"outages": len(outages), "outage_ms": outages, "lost": len(res.lost),
            "sent": res.transmitted}  # fmt: skip


# Half the gratuitous ARPs (ARP requests for the box's own new address) the box sends over
# Wi-Fi are dropped where they reach the lab's access point. Only those: dropping every ARP
# frame would also fail the laptop's routine unicast re-checks, which real Wi-Fi retries at L2.
_NEW_HEX = "".join(f"{int(o):02x}" for o in NEW.split("."))
LOSSY_WIFI = (
    "ip netns exec ap tc qdisc add dev wlan1 ingress && ip netns exec ap tc filter add dev wlan1 "
    "ingress protocol arp u32 match u16 0x0001 0xffff at 6 "
    f"match u32 0x{_NEW_HEX} 0xffffffff at 24 action gact ok random netrand drop 2"
)


def lossy_wifi_failover(
    lab: Lab, box: Box, grat_arp: int, delay_ms: int, pulls: int
) -> dict[str, Any]:
    """Cable pulls while the access point loses half the gratuitous ARPs from the box (a tc
    filter in the box's own AP namespace): how long is the box unreachable when the ARP
    announcing its moved MAC may be lost? Set at runtime through sysfs."""
    box.ssh(f"echo {grat_arp} > /sys/class/net/bond0/bonding/num_grat_arp; echo {delay_ms} > "
            "/sys/class/net/bond0/bonding/peer_notif_delay", host=NEW, check=True)  # fmt: skip
    box.ssh(LOSSY_WIFI, host=NEW, check=True)
    outages = []
    try:
        for _ in range(pulls):
            wait_until(lambda: len(bond_state(box)[1]) == 2, 60)
            run = lab.start_ping(NEW, seconds=9, interval=0.01)
            time.sleep(1.5)
            box.pull_cable()
            res = run.result()
            box.plug_cable()
            outages.append(round(res.longest_gap_ms(), 1))
    finally:
        box.ssh("ip netns exec ap tc qdisc del dev wlan1 ingress", host=NEW)
    return {
        "num_grat_arp": grat_arp,
        "peer_notif_delay_ms": delay_ms,
        "outage_ms": outages,
        "median_ms": statistics.median(outages),
        "worst_ms": max(outages),
        "over_1s": sum(o > 1000 for o in outages),
    }


def drills(box: Box, runs: int = 3) -> dict[str, Any]:
    """`tightrope drill` on the box, as an admin would run it: its own failover and
    fail-back figures (probes to the gateway every 10 ms)."""
    failover, failback = [], []
    for _ in range(runs):
        wait_until(lambda: len(bond_state(box)[1]) == 2, 60)
        cp = box.ssh("python3 /root/tightrope.pyz drill --seconds 5 --json", host=NEW, timeout=180)
        d = json.loads(cp.stdout)
        failover.append(d["failover_ms"])
        failback.append(d["failback_ms"])
    return {
        "failover_ms": failover,
        "failback_ms": failback,
        "failover_median_ms": statistics.median(failover),
        "failback_median_ms": statistics.median(failback),
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
    run_tightrope(box, pyz, psk="not-the-lab-passphrase",
                  extra="--confirm-timeout 30 --verify-all-ports")  # the rollback, measured
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
            # Every port verified: the cable pulls that follow need wlan0 in the bond.
            ("tightrope", lambda: run_tightrope(box, pyz,
                                                extra="--auto-confirm --verify-all-ports")),
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
                entry["drill"] = drills(box)
                entry["flapping"] = [flapping_cable(lab, box, d) for d in (0, 2000)]
                entry["lossy_wifi"] = [
                    lossy_wifi_failover(lab, box, n, d, args.pulls) for n, d in ((1, 0), (3, 200))
                ]
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


if __name__ == "__main__":
    raise SystemExit(main())
