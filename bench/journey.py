"""The remote journey's cost, side by side with the seed's, in one lab run.

    sudo python -m bench.journey [--out bench/results] [--label before|after] [--runs N]

One lab box in the netplan start state, restored to the same snapshot before every
measurement. Everything runs from the laptop namespace as the lab tests do
(tests/lab/test_remote_lab.py), with the lab tests' bond config and a 0600 PSK file:

- Python start-ups on the box per `tightrope bond ... --host root@198.18.1.50` journey (the box
  moves to 198.18.1.64 and is confirmed there), counted by a wrapper put at
  /usr/local/bin/python3 for that journey only (and one status, one plan); split by the server
  address each SSH session reached (SSH_CONNECTION), and the starts without SSH (the
  transaction runner in its systemd unit) apart;
- wall times of `tightrope status --host` and `tightrope plan CONFIG --host` (the zipapp
  already cached on the box by a warm-up), and of the journey: start -> new address answers
  pings from the laptop (fresh one-shot pings, about every 0.1 s), start -> command exits;
- the seed's script (tests/lab/seedrun.py, started as bench/run.py starts it): start -> new
  address answers; `nmcli device status` on the box and over one SSH session from the laptop.

The timed journeys and seed runs alternate; the counting journey comes last and is not in the
medians. Writes bench/results/journey-<label>-<UTC time>.json (raw figures, the commit
measured, the machine, KVM or TCG, the host's load) and prints a summary. Needs root.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tests.lab.boxtools import NEW, OLD
from tests.lab.seedrun import SEED_SCRIPT, wait_for
from tests.lab.test_remote_lab import _config, _events, _laptop_argv

import tightrope
from tightrope.lab import DNS, GATEWAY, LAB_SSID, Box, Lab
from tightrope.remote.echo import INTERVAL_S as OUTAGE_INTERVAL_S
from tightrope.remote.echo import outage_s

ROOT = Path(__file__).resolve().parents[1]
LOG = "/run/tightrope-bench-python.log"
WRAPPER_PATH = "/usr/local/bin/python3"
# One line per Python start: box wall clock (synced to the host's at every restore), pid,
# SSH_CONNECTION with commas ("-" when not started over SSH), then argv. `exec -a` keeps
# sys.executable at the wrapper, so Python that starts Python (the transaction runner, via
# sys.executable) is counted too.
WRAPPER = f"""#!/bin/bash
c=${{SSH_CONNECTION:--}}
printf '%s %s %s | %s\\n' "$EPOCHREALTIME" "$$" "${{c// /,}}" "$*" >> {LOG}
exec -a {WRAPPER_PATH} /usr/bin/python3 "$@"
"""


# --- on the box --------------------------------------------------------------------------


def install_wrapper(box: Box) -> None:
    """Put the counting wrapper first on root's PATH and prove it counts; empty log after."""
    box.ssh(f"cat > {WRAPPER_PATH}.part && chmod 0755 {WRAPPER_PATH}.part && "
            f"mv {WRAPPER_PATH}.part {WRAPPER_PATH}", input=WRAPPER, check=True)  # fmt: skip
    cp = box.ssh("echo $PATH; command -v python3; "
                 "python3 -c 'import sys; print(sys.executable, sys.prefix)'; "
                 f"cat {LOG}; : > {LOG}", check=True)  # fmt: skip
    path, which, exe, *logged = cp.stdout.splitlines()
    dirs = path.split(":")
    if "/usr/local/bin" not in dirs or dirs.index("/usr/local/bin") > dirs.index("/usr/bin"):
        raise SystemExit(f"root's SSH PATH does not put /usr/local/bin first: {path}")
    if which != WRAPPER_PATH or exe != f"{WRAPPER_PATH} /usr" or len(logged) != 1:
        raise SystemExit(f"the python3 wrapper does not count: {cp.stdout!r}")


def python_starts(box: Box, host: str, t0: float) -> dict[str, Any]:
    text = box.ssh(f"cat {LOG}", host=host, check=True).stdout
    starts = []
    for line in text.splitlines():
        head, _, argv = line.partition(" | ")
        parts = head.split(" ")
        try:
            ts, pid, conn = parts
            server = conn.split(",")[2] if conn != "-" else None
            starts.append({"t_s": round(float(ts) - t0, 2), "pid": int(pid), "server": server,
                           "argv": argv})  # fmt: skip
        except (ValueError, IndexError):  # kept as it is, for a person to read
            starts.append({"t_s": None, "pid": None, "server": None, "argv": line})
    by_address: dict[str, int] = {}
    for s in starts:
        if s["server"]:
            by_address[s["server"]] = by_address.get(s["server"], 0) + 1
    return {
        "over_ssh": sum(by_address.values()),
        "by_address": by_address,
        "without_ssh": sum(s["server"] is None for s in starts),
        "starts": starts,
    }


def runner_steps(box: Box, host: str, t0: float) -> list[dict[str, Any]]:
    """The newest transaction's steps as its runner recorded them (the box's wall clock,
    which the lab's VM takes from the host at boot), relative to the journey's start."""
    text = box.ssh("d=$(ls -d /var/lib/tightrope/txn/*/ | sort | tail -1); "
                   "cat \"$d/state.json\"", host=host, check=True).stdout
    state = json.loads(text)
    # A note's words say what a step waited for (state.json holds no secret).
    steps = [{"t_s": round(s["at"] - t0, 2), "step": s["name"], "status": s["status"],
              **({"detail": s["detail"]} if s["name"] == "note" else {})}
             for s in state.get("steps", [])]  # fmt: skip
    steps += [{"t_s": round(at - t0, 2), "step": k, "status": "timing"}
              for k, at in state.get("timings", {}).items()]  # fmt: skip
    steps.append({"t_s": round(state["created"] - t0, 2), "step": "created", "status": "timing"})
    return sorted(steps, key=lambda s: s["t_s"])


def nmcli_on_box(box: Box, n: int) -> list[float]:
    script = (f"for i in $(seq {n}); do s=$(date +%s.%N); nmcli device status >/dev/null; "
              "e=$(date +%s.%N); echo $s $e; done")  # fmt: skip
    out = box.ssh(script, timeout=300, check=True).stdout
    return [round(float(e) - float(s), 3) for s, e in (ln.split() for ln in out.splitlines())]


# --- from the laptop ---------------------------------------------------------------------


class AnswerWatch:
    """When `target` first answers pings from the laptop: `probes` staggered lab.wait_ping
    loops (each a fresh one-shot ping at a time, which never falls behind the way a long
    ping does after errors), so that together they probe about every `step` seconds."""

    def __init__(self, lab: Lab, target: str, timeout: float, probes: int = 6,
                 step: float = 0.1) -> None:  # fmt: skip
        self.lab, self.target, self.timeout = lab, target, timeout
        self.times: list[float] = []
        self._lock = threading.Lock()
        for i in range(probes):
            threading.Thread(target=self._loop, args=(i * step,), daemon=True).start()

    def _loop(self, delay: float) -> None:
        time.sleep(delay)
        start = time.time()
        try:
            secs = self.lab.wait_ping(self.target, self.timeout)
        except TimeoutError:
            return
        with self._lock:
            self.times.append(start + secs)

    def first(self, timeout: float) -> float:
        wait_for(f"{self.target} to answer pings", lambda: self.times, timeout, 0.05)
        time.sleep(0.3)  # a probe that started earlier may report a moment later
        with self._lock:
            return min(self.times)


def timed(argv: list[str], ok: tuple[int, ...], timeout: float = 600) -> tuple[float, Any]:
    t0 = time.monotonic()
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    secs = time.monotonic() - t0
    if cp.returncode not in ok:
        raise SystemExit(f"{argv[5:8]} exited {cp.returncode}:\n{cp.stdout[-2000:]}\n"
                         f"{cp.stderr[-2000:]}")  # fmt: skip
    return round(secs, 3), cp


def post_mortem(box: Box) -> str:
    """What the box says after a journey that did not commit (the lab goes with the run)."""
    out = []
    for host in (NEW, OLD):
        try:
            cp = box.ssh("ip -br addr; journalctl -t tightrope -n 60 --no-pager", host=host,
                         timeout=20)  # fmt: skip
            out.append(f"--- at {host} (exit {cp.returncode}):\n{cp.stdout}{cp.stderr}")
        except Exception as exc:  # a post-mortem must not hide the failure it explains
            out.append(f"--- at {host}: {exc}")
    try:
        console = Path(box.files.console).read_text(errors="replace")
        out.append("--- console (last 3000 characters):\n" + console[-3000:])
    except OSError as exc:
        out.append(f"--- console: {exc}")
    return "\n".join(out)


def forget_new_address(lab: Lab) -> None:
    """The laptop must learn the new address afresh each time (ARP), as a real one does."""
    lab.laptop(["ip", "neigh", "flush", "to", NEW])


def bond_args(psk_file: Path) -> list[str]:
    """The lab tests' bond config (tests/lab/boxtools.config_text) as `bond` flags."""
    return ["bond", "--ethernet", "eth0", "--wifi", "wlan0", "--ssid", LAB_SSID,
            "--psk-file", str(psk_file), "--address", f"{NEW}/24", "--gateway", GATEWAY,
            "--dns", DNS, "--host", f"root@{OLD}", "--yes", "--json"]  # fmt: skip


def say(msg: str) -> None:
    print(f"[journey] {msg}", file=sys.stderr, flush=True)


def journey(lab: Lab, box: Box, psk_file: Path, *, counted: bool,
            extra: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    say("journey" + (" (counting Python starts)" if counted else "") + " ".join(("", *extra)))
    box.restore("warm")
    forget_new_address(lab)
    if counted:
        install_wrapper(box)
    argv = _laptop_argv(lab, box, *bond_args(psk_file), *extra)
    watch = AnswerWatch(lab, NEW, timeout=900)
    # The apply outage by the journey's own method (remote.echo): 20 ms echo to both
    # addresses, the old one's last reply before the new one's first.
    pings = [lab.start_ping(a, 300, OUTAGE_INTERVAL_S) for a in (OLD, NEW)]
    t0 = time.time()
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=900, check=False)
    exit_s = time.time() - t0
    old_ping, new_ping = (p.stop() for p in pings)
    summaries = [e for e in _events(cp.stdout) if e.get("event") == "summary"]
    result = summaries[0]["results"][0] if summaries else {}
    if cp.returncode != 0 or result.get("outcome") != "committed":
        raise SystemExit(f"the journey did not commit (exit {cp.returncode}):\n"
                         f"{cp.stdout[-3000:]}\n{cp.stderr[-3000:]}\n"
                         f"{post_mortem(box)}")  # fmt: skip
    entry: dict[str, Any] = {
        "new_answers_s": round(watch.first(120) - t0, 2),
        "exit_committed_s": round(exit_s, 2),
        "tool_seconds": round(result.get("seconds", 0.0), 2),
        "tool_outage_s": result.get("outage_s"),
        "ping_outage_s": outage_s([r.at for r in old_ping.replies],
                                  [r.at for r in new_ping.replies], OUTAGE_INTERVAL_S),
        "with_wrapper": counted,
        "flags": list(extra),
        "reason": result.get("reason", ""),
        "load": load(),
    }
    if counted:
        entry["python"] = python_starts(box, NEW, t0)
        entry["steps"] = runner_steps(box, NEW, t0)
    return entry


def status_on_box(box: Box, n: int) -> list[float]:
    """`tightrope status` on the box from the compiled tree the journey runs (remote.ssh)."""
    script = ("t=$(ls -d /var/cache/tightrope/tightrope-*/ | head -1); "
              f"for i in $(seq {n}); do s=$(date +%s.%N); python3 $t status >/dev/null; "
              "e=$(date +%s.%N); echo $s $e; done")  # fmt: skip
    out = box.ssh(script, timeout=300, check=True).stdout
    return [round(float(e) - float(s), 3) for s, e in (ln.split() for ln in out.splitlines())]


def fresh_ssh(box: Box, cmd: str) -> None:
    """cmd over a login of its own, as `status --host` makes one (the harness's calls share
    one connection: 0.1 s instead of a login's 1.5 s on the emulated box)."""
    argv = box.ssh_argv()
    at = argv.index("ssh") + 1
    argv[at:at] = ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
    subprocess.run([*argv, cmd], capture_output=True, timeout=60, check=True)


def seed(lab: Lab, box: Box, tmp: Path) -> dict[str, Any]:
    """The seed's script, started as bench/run.py starts it (detached, over SSH). Its time
    counts from the script's start: the admin of the seed's article is logged in already
    (over the harness's shared connection the start costs 0.1 s; before 3eea57e a login)."""
    say("seed script")
    box.restore("warm")
    forget_new_address(lab)
    script = tmp / "seed.sh"
    script.write_text(SEED_SCRIPT)
    box.put(script, "/root/seed.sh")
    watch = AnswerWatch(lab, NEW, timeout=300)
    t0 = time.time()
    box.ssh("systemd-run --quiet --collect --unit=tightrope-seed bash /root/seed.sh", timeout=30)
    return {"new_answers_s": round(watch.first(300) - t0, 2), "load": load()}


# --- the run -----------------------------------------------------------------------------


def med(values: list[float]) -> float:
    return round(statistics.median(values), 3)


def _med_or_none(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return med(got) if got else None


def code_measured() -> dict[str, Any]:
    root = Path(tightrope.__file__).resolve().parents[2]

    def git(*args: str) -> str:
        cp = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                            check=False)  # fmt: skip
        return cp.stdout.strip()

    return {"root": str(root), "commit": git("rev-parse", "HEAD"),
            "subject": git("log", "-1", "--format=%s"),
            "dirty_src": bool(git("status", "--porcelain", "--", "src"))}  # fmt: skip


def load() -> dict[str, Any]:
    """The host's load and its QEMU processes (this run's own box included, once it is up):
    other lab runs slow the emulated box down."""
    qemus = subprocess.run(["pgrep", "-c", "qemu-system"], capture_output=True, text=True,
                           check=False).stdout.strip()  # fmt: skip
    return {"loadavg": [round(x, 2) for x in os.getloadavg()], "qemu_processes": int(qemus or 0)}


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    res: dict[str, Any] = {
        "label": args.label,
        "date_utc": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "code": code_measured(),
        "machine": {
            "arch": platform.machine(),
            "cores": os.cpu_count(),
            "python_laptop": platform.python_version(),
        },
        "runs": args.runs,
        "load_at_start": load(),
    }
    if res["load_at_start"]["qemu_processes"]:
        say("other QEMU processes are running: the figures will be slower and noisier")
    cfg = _config(tmp)  # boxtools.config_text with a laptop-local 0600 PSK file
    psk_file = tmp / "wlan0.psk"
    with Lab(f"journey{os.getpid() % 10000}") as lab:
        t = time.monotonic()
        box = lab.up("netplan")
        res["accel"] = lab.accel
        res["boot_s"] = round(time.monotonic() - t, 1)
        box.snapshot("pristine")

        def laptop(*a: str) -> list[str]:
            return _laptop_argv(lab, box, *a)

        status = laptop("status", "--host", f"root@{OLD}")
        plan = laptop("plan", str(cfg), "--host", f"root@{OLD}")
        res["argv"] = {"status": status[4:], "plan": plan[4:],
                       "journey": _laptop_argv(lab, box, *bond_args(psk_file))[4:]}  # fmt: skip
        say("status, plan, nmcli")
        res["status_cold_s"], _ = timed(status, (0,))  # ships the zipapp: the warm-up
        box.snapshot("warm")
        res["nmcli_on_box_s"] = nmcli_on_box(box, args.runs_cli)
        res["status_on_box_s"] = status_on_box(box, args.runs_cli)
        res["nmcli_on_box_after_s"] = nmcli_on_box(box, args.runs_cli)
        res["nmcli_over_ssh_s"] = []
        for _ in range(args.runs_cli):
            t = time.monotonic()
            fresh_ssh(box, "nmcli device status")
            res["nmcli_over_ssh_s"].append(round(time.monotonic() - t, 3))
        res["status_s"] = [timed(status, (0,))[0] for _ in range(args.runs_cli)]
        res["plan_s"] = [timed(plan, (10,))[0] for _ in range(args.runs_cli)]
        install_wrapper(box)
        for name, argv, ok in (("status", status, (0,)), ("plan", plan, (10,))):
            t0 = time.time()
            timed(argv, ok)
            res[f"python_{name}"] = python_starts(box, OLD, t0)
            box.ssh(f": > {LOG}", check=True)
        if args.timeline:
            res["timeline"] = [journey(lab, box, psk_file, counted=True)
                               for _ in range(args.runs)]  # fmt: skip
            res["load_at_end"] = load()
            return res
        res["journey"], res["seed"], res["journey_all_ports"] = [], [], []
        for _ in range(args.runs):  # alternately, so that a busy moment hits all alike
            res["journey"].append(journey(lab, box, psk_file, counted=False))
            res["seed"].append(seed(lab, box, tmp))
            res["journey_all_ports"].append(journey(lab, box, psk_file, counted=False,
                                                    extra=("--verify-all-ports",)))
        res["journey_counted"] = journey(lab, box, psk_file, counted=True)
    res["load_at_end"] = load()
    return res


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    j = res["journey"]
    s = {
        "status_median_s": med(res["status_s"]),
        "plan_median_s": med(res["plan_s"]),
        "nmcli_on_box_median_s": med(res["nmcli_on_box_s"] + res["nmcli_on_box_after_s"]),
        "status_on_box_median_s": med(res["status_on_box_s"]),
        "journey_ping_outage_median_s": _med_or_none([r["ping_outage_s"] for r in j]),
        "journey_tool_outage_median_s": _med_or_none([r["tool_outage_s"] for r in j]),
        "nmcli_over_ssh_median_s": med(res["nmcli_over_ssh_s"]),
        "journey_new_answers_median_s": med([r["new_answers_s"] for r in j]),
        "journey_exit_median_s": med([r["exit_committed_s"] for r in j]),
        "seed_new_answers_median_s": med([r["new_answers_s"] for r in res["seed"]]),
        "all_ports_new_answers_median_s": med([r["new_answers_s"]
                                               for r in res["journey_all_ports"]]),
        "all_ports_exit_median_s": med([r["exit_committed_s"] for r in res["journey_all_ports"]]),
    }
    py = res["journey_counted"]["python"]
    s["journey_python_over_ssh"] = py["over_ssh"]
    s["journey_python_by_address"] = py["by_address"]
    s["journey_python_without_ssh"] = py["without_ssh"]
    s["ratios"] = {
        "status_to_nmcli_over_ssh": round(s["status_median_s"] / s["nmcli_over_ssh_median_s"], 1),
        "status_to_nmcli_on_box": round(s["status_median_s"] / s["nmcli_on_box_median_s"], 1),
        "status_on_box_to_nmcli_on_box": round(
            s["status_on_box_median_s"] / s["nmcli_on_box_median_s"], 1),
        "plan_to_nmcli_over_ssh": round(s["plan_median_s"] / s["nmcli_over_ssh_median_s"], 1),
        "journey_new_answers_to_seed": round(
            s["journey_new_answers_median_s"] / s["seed_new_answers_median_s"], 2),
        "journey_exit_to_seed_new_answers": round(
            s["journey_exit_median_s"] / s["seed_new_answers_median_s"], 2),
        "all_ports_exit_to_seed_new_answers": round(
            s["all_ports_exit_median_s"] / s["seed_new_answers_median_s"], 2),
    }  # fmt: skip
    return s


def report(res: dict[str, Any], path: Path) -> str:
    s, r = res["summary"], res["summary"]["ratios"]
    by = ", ".join(f"{a}: {n}" for a, n in s["journey_python_by_address"].items())
    return "\n".join([
        f"journey bench [{res['label']}] {res['code']['commit'][:10]} on {res['accel']}, "
        f"{res['machine']['arch']} x{res['machine']['cores']}",
        f"python starts per journey over SSH: {s['journey_python_over_ssh']} ({by}); "
        f"without SSH (runner): {s['journey_python_without_ssh']}; per status --host: "
        f"{res['python_status']['over_ssh']}, per plan --host: {res['python_plan']['over_ssh']}",
        f"status --host {s['status_median_s']:.2f} s  plan --host {s['plan_median_s']:.2f} s  "
        f"nmcli device status: over SSH {s['nmcli_over_ssh_median_s']:.2f} s, on the box "
        f"{s['nmcli_on_box_median_s']:.2f} s  (status x{r['status_to_nmcli_over_ssh']}, "
        f"plan x{r['plan_to_nmcli_over_ssh']} of nmcli over SSH)",
        f"on the box: status {s['status_on_box_median_s']:.2f} s, nmcli device status "
        f"{s['nmcli_on_box_median_s']:.2f} s (x{r['status_on_box_to_nmcli_on_box']})",
        f"apply outage: 20 ms pings {s['journey_ping_outage_median_s']} s, the journey's own "
        f"report {s['journey_tool_outage_median_s']} s",
        f"journey: new address answers {s['journey_new_answers_median_s']:.1f} s, exits "
        f"committed {s['journey_exit_median_s']:.1f} s; seed: new address answers "
        f"{s['seed_new_answers_median_s']:.1f} s (x{r['journey_new_answers_to_seed']}, "
        f"x{r['journey_exit_to_seed_new_answers']})",
        f"with --verify-all-ports: new address answers "
        f"{s['all_ports_new_answers_median_s']:.1f} s, exits committed "
        f"{s['all_ports_exit_median_s']:.1f} s (x{r['all_ports_exit_to_seed_new_answers']})",
        f"results: {path}",
    ])  # fmt: skip


def timeline_report(res: dict[str, Any], path: Path) -> str:
    lines = [f"journey timeline [{res['label']}] {res['code']['commit'][:10]} on {res['accel']}"]
    for n, j in enumerate(res["timeline"], 1):
        events = [(s["t_s"], f"python {s['argv'].split()[-1] if s['server'] else '_txn-run'}"
                   f"{' at ' + s['server'] if s['server'] else ''}")
                  for s in j["python"]["starts"]]  # fmt: skip
        events += [(s["t_s"], f"{s['step']} {s['status']}") for s in j["steps"]]
        events.append((j["new_answers_s"], "NEW ADDRESS ANSWERS"))
        events.append((j["exit_committed_s"], "laptop exits: committed"))
        lines.append(f"run {n}: " + "; ".join(f"{t:.2f} {what}" for t, what in sorted(events)))
    lines.append(f"results: {path}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    ap.add_argument("--label", default="run", help="e.g. before or after (in the file name)")
    ap.add_argument("--runs", type=int, default=1, help="timed journeys and seed runs (1)")
    ap.add_argument("--runs-cli", type=int, default=3, help="status, plan, nmcli runs (3)")
    ap.add_argument("--timeline", action="store_true",
                    help="only --runs journeys counted for Python starts, with the runner's "
                    "steps on the same clock: where the seconds go")  # fmt: skip
    args = ap.parse_args()
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", args.label):
        ap.error("--label: letters, digits, '.', '_' and '-' only")
    if os.geteuid() != 0:
        ap.error("needs root (the lab's namespaces)")
    with tempfile.TemporaryDirectory(prefix="tightrope-journey-") as tmp:
        res = measure(args, Path(tmp))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"journey-{args.label}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    if args.timeline:
        path.write_text(json.dumps(res, indent=2) + "\n")
        print(timeline_report(res, path), flush=True)
        return 0
    res["summary"] = summarise(res)
    path.write_text(json.dumps(res, indent=2) + "\n")
    print(report(res, path), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
