"""`tightrope lab demo`: the seed's whole journey on a lab box, from the laptop, end to end.

Boots a box in the netplan start state (the seed article's box), then runs, from the laptop
namespace, the very commands a user would type against a real Pi: status, the bond with
--host (plan, consent, transaction, following the box to its new address, confirmation),
status at the new address, and a failover drill with its picture. Each command is printed
before it runs, so the demo doubles as a tutorial.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tightrope.errors import LabError
from tightrope.lab.box import Box
from tightrope.lab.lab import Lab
from tightrope.lab.net import GATEWAY, LAB_PSK, LAB_SSID, SEED_TARGET

Say = Callable[[str], None]


def _ssh_options(box: Box) -> list[str]:
    return [
        "--ssh-config", "/dev/null",
        "--ssh-option", f"IdentityFile={box.image.key}",
        "--ssh-option", "IdentitiesOnly=yes",
        "--ssh-option", f"UserKnownHostsFile={box.known_hosts}",
        "--ssh-option", "GlobalKnownHostsFile=/dev/null",
    ]  # fmt: skip


def check_picture_deps() -> None:
    """The drill's picture is the demo's last step, minutes after the box booted: refuse at
    once, before anything boots, if it could not be drawn. The drill runs in this very
    interpreter (`sys.executable -m tightrope`), so what imports here imports there."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise LabError(
            "the demo's drill picture needs matplotlib, which is not installed",
            hint="pip install 'tightrope[plot]' (or scripts/install from the checkout)",
        ) from None


def ports_up(status: object) -> bool:
    """Whether `tightrope status --json` shows a bond whose ports all have link: the drill's
    precondition (it refuses to take the cable down with no backup to fail over to)."""
    bonds = status.get("bonds") if isinstance(status, dict) else None
    ports = bonds[0].get("ports") if isinstance(bonds, list) and bonds else None
    return (
        isinstance(ports, list)
        and len(ports) >= 2
        and all(isinstance(p, dict) and p.get("link") == "up" for p in ports)
    )


def run_demo(lab: Lab, say: Say, picture: Path, workdir: Path | None = None) -> int:
    box = lab.box
    work = workdir or Path(tempfile.mkdtemp(prefix="tightrope-demo-"))
    psk = work / "wlan0.psk"
    psk.write_text(LAB_PSK)
    psk.chmod(0o600)
    old = f"root@{box.spec.eth0_ip}"
    new = f"root@{SEED_TARGET}"
    ns = lab.topology.laptop_ns

    def tightrope(argv: list[str], capture: bool = False) -> subprocess.CompletedProcess[str]:
        cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "tightrope", *argv,
               *_ssh_options(box)]  # fmt: skip
        return subprocess.run(cmd, check=False, text=True, capture_output=capture)

    def wait_for_ports(timeout_s: float = 120.0) -> None:
        # wlan0 re-associates when it joins the bond; under software emulation that can take
        # longer than the confirmation, and the drill would refuse (no backup to fail over to).
        argv = ["status", "--host", new, "--json"]
        t0 = told = time.monotonic()
        for attempt in itertools.count():
            res = tightrope(argv, capture=True)
            with contextlib.suppress(ValueError):
                if res.returncode == 0 and ports_up(json.loads(res.stdout)):
                    if attempt:
                        say(f"(both up after {time.monotonic() - t0:.0f} s)")
                    return
            if time.monotonic() - t0 > timeout_s:
                say(f"(still not both up after {timeout_s:.0f} s; the drill will say why)")
                return
            if not attempt:
                say(f"\n(Wi-Fi is still re-associating; waiting until both ports are up: "
                    f"$ tightrope {' '.join(argv)})")  # fmt: skip
            elif time.monotonic() - told >= 10:  # a wait is never silent for long
                told = time.monotonic()
                say(f"(both ports: {told - t0:.0f} s so far, giving up in "
                    f"{max(0.0, timeout_s - (told - t0)):.0f} s)")  # fmt: skip
            time.sleep(2)

    steps: list[tuple[str, list[str]]] = [
        ("What the box has now", ["status", "--host", old]),
        ("The seed's script as one command: plan, consent, transaction, follow, confirm",
         ["bond", "--ethernet", "eth0", "--wifi", "wlan0", "--ssid", LAB_SSID,
          "--psk-file", str(psk), "--address", f"{SEED_TARGET}/24", "--gateway", GATEWAY,
          "--dns", GATEWAY, "--host", old, "--yes"]),
        ("The bond, at its new address", ["status", "--host", new]),
        ("Prove it: a failover drill with a measured outage",
         ["drill", "--seconds", "5", "--host", new, "--picture", str(picture)]),
    ]  # fmt: skip
    for title, argv in steps:
        if argv[0] == "drill":
            wait_for_ports()
        say(f"\n== {title}\n$ tightrope {' '.join(argv)}")
        code = tightrope(argv).returncode
        if code != 0:
            say(f"(exit {code}; the demo stops here)")
            return code
    say(f"\nThe drill's timeline: {picture}\nThe box stays up: `tightrope lab ssh --name "
        f"{lab.name} --host {SEED_TARGET}`; `tightrope lab down --name {lab.name}` ends it.")
    return 0
