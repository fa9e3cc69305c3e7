"""bench/results/*.json -> docs/benchmarks.md: the figures, and the defaults they chose."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KEPT = "<!-- kept: journey -->"


def _comparison(r: dict[str, Any]) -> list[str]:
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
    return [
        "| | seed script | tightrope |", "|---|---|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows], "",
    ]  # fmt: skip


def _seed_caveat(r: dict[str, Any]) -> list[str]:
    after = set(map(str, r["seed"]["cable"]["active_after_return"]))
    if after != {"wlan0"}:
        return []
    return [
        "Read the seed's cable rows with care: its bond has no primary, so after the first "
        "cable return its traffic stays on wlan0 and later pulls of eth0 move nothing; its "
        "pull figures then measure an idle port, not a failover.", "",
    ]  # fmt: skip


def _defaults(r: dict[str, Any]) -> list[str]:
    t = r["tightrope"]
    flap = {f["updelay_ms"]: f for f in t.get("flapping", [])}
    lossy = {(w["num_grat_arp"], w["peer_notif_delay_ms"]): w for w in t.get("lossy_wifi", [])}
    lines = ["## The defaults tightrope writes, and the figure behind each", ""]
    lines.append(
        "- **primary = the first ethernet port** (fail-back to the cable): after the cable "
        "returns, the seed's bond stays on "
        + ", ".join(sorted(set(map(str, r["seed"]["cable"]["active_after_return"]))))
        + " while tightrope's is back on "
        + ", ".join(sorted(set(map(str, t["cable"]["active_after_return"]))))
        + f" (return outage median {t['cable']['return_median_ms']} ms)."
    )
    if 0 in flap and 2000 in flap:
        lines.append(
            "- **up-delay 2000 ms** with a primary, under MII (the monitor without a static "
            "gateway; ARP has no such delay): a cable replugged every second, 4 times, "
            f"cost {flap[0]['outages']} outages and {flap[0]['lost']} lost probes with "
            f"up-delay 0, {flap[2000]['outages']} and {flap[2000]['lost']} with 2000 ms."
        )
    if (1, 0) in lossy and (3, 200) in lossy:
        one, three = lossy[(1, 0)], lossy[(3, 200)]
        lines.append(
            "- **gratuitous-arp 3, peer-notify-delay 200 ms** (under ARP: one per 100 ms "
            "interval) when the MAC moves "
            "(fail-over-mac-policy active, i.e. with a Wi-Fi port): with half the gratuitous "
            f"ARPs lost, one notification left {one['over_1s']} of {len(one['outage_ms'])} "
            f"cable pulls over 1 s (worst {one['worst_ms']:.0f} ms, the end of the 7.5 s "
            f"window); three, 200 ms apart, left {three['over_1s']} of "
            f"{len(three['outage_ms'])} (worst {three['worst_ms']:.0f} ms). When the first is "
            "lost the next comes 200 ms later, hence the higher median. On a lossless link "
            "both cost nothing (see the cable pull row)."
        )
    lines.append(
        "- **Wi-Fi power saving off** on the Wi-Fi port (802-11-wireless.powersave = 2): a "
        "sleeping radio buffers frames at the access point until its next wake-up, so the "
        "backup port answers late just when it takes over. The lab cannot measure this: "
        "mac80211_hwsim never sleeps. The choice follows the chip makers' advice for "
        "latency-sensitive links; `tightrope plan` warns when power saving is on."
    )
    lines.append(
        "- **the ARP monitor, every 100 ms to the gateway, 2 missed** when there is a static "
        "gateway, else **mii-monitor-interval 100 ms** (the seed's value): every dead path "
        "recovered (10 of 10, median 271 ms, against 0 of 10 under MII), a pulled cable in "
        "302 ms (84 ms under MII in the lab, where QEMU reports the link at once; on a "
        "Raspberry Pi the PHY adds ~750 ms to ~1.85 s to MII and nothing to ARP). See "
        '"Which monitor by default" below (bench/monitor.py).'
    )
    return [*lines, ""]


def render_markdown(r: dict[str, Any]) -> str:
    t = r["tightrope"]
    lines = [
        "# Benchmarks", "",
        f"Run {r['date']} on {r['machine']}; the lab VM ran under **{r['accel']}** "
        "(software emulation inflates absolute times: read the ratios and the "
        "miimon-bound figures). Produced by `sudo python -m bench.run`; raw JSON in "
        "bench/results/; `python -m bench.report FILE` redraws this page from one.", "",
        *_comparison(r),
        *_seed_caveat(r),
        f"`tightrope status` takes {r['cli']['tightrope_status_median_s']} s on the box against "
        f"{r['cli']['nmcli_device_status_median_s']} s for `nmcli device status` "
        f"(ratio {r['cli']['ratio']}; tightrope runs from its zipapp with pure-Python D-Bus and "
        "reads every profile, the scan list and the bonding state).", "",
        f"Wrong PSK with tightrope: {r['wrong_psk']['tightrope']['reason']}", "",
    ]  # fmt: skip
    if "drill" in t:
        d = t["drill"]
        lines += [
            "## `tightrope drill` on the bonded box", "",
            f"eth0 taken down for 5 s, probes to the gateway every 10 ms, {len(d['failover_ms'])} "
            f"runs: failover {d['failover_median_ms']} ms median "
            f"({', '.join(map(str, d['failover_ms']))}), fail-back "
            f"{d['failback_median_ms']} ms median ({', '.join(map(str, d['failback_ms']))}).",
            "",
        ]  # fmt: skip
    lines += [
        "## A flapping cable (pulled and replugged every second, 4 times)", "",
        "| up-delay | outages | probes lost |", "|---|---|---|",
        *[f"| {f['updelay_ms']} ms | {f['outages']} | {f['lost']} of {f['sent']} |"
          for f in t.get("flapping", [])], "",
        "## Cable pulled while Wi-Fi loses half the gratuitous ARPs", "",
        "With fail_over_mac=active the bond's MAC moves to wlan0 and peers learn it only from "
        "gratuitous ARPs. A tc filter in the lab's access point drops half the gratuitous ARPs "
        "the box sends over Wi-Fi; the laptop measures the outage of each cable pull.", "",
        "| gratuitous ARPs, spacing | median | worst | pulls over 1 s |", "|---|---|---|---|",
        *[f"| {w['num_grat_arp']}, {w['peer_notif_delay_ms']} ms | {w['median_ms']:.0f} ms | "
          f"{w['worst_ms']:.0f} ms | {w['over_1s']} of {len(w['outage_ms'])} |"
          for w in t.get("lossy_wifi", [])], "",
        *_defaults(r),
    ]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    data = json.loads(Path(sys.argv[1]).read_text())
    out = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
    # The journey's before/after section (bench/journey.py) is kept across re-renders.
    kept = ""
    if out.exists() and KEPT in out.read_text():
        kept = out.read_text()[out.read_text().index(KEPT):]
    out.write_text(render_markdown(data) + ("\n" + kept if kept else ""))
    print(out)
