"""`tightrope lab demo`: the seed's whole journey on a lab box, from the laptop, end to end.

Boots a box in the netplan start state (the seed article's box), then runs, from the laptop
namespace, the very commands a user would type against a real Pi: status, the bond with
--host (plan, consent, transaction, following the box to its new address, confirmation),
status at the new address, and a failover drill with its picture. Each command is printed
before it runs, so the demo doubles as a tutorial.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
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


def run_demo(lab: Lab, say: Say, picture: Path, workdir: Path | None = None) -> int:
    box = lab.box
    work = workdir or Path(tempfile.mkdtemp(prefix="tightrope-demo-"))
    psk = work / "wlan0.psk"
    psk.write_text(LAB_PSK)
    psk.chmod(0o600)
    old = f"root@{box.spec.eth0_ip}"
    new = f"root@{SEED_TARGET}"
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
    ns = lab.topology.laptop_ns
    for title, argv in steps:
        shown = "tightrope " + " ".join(argv)
        say(f"\n== {title}\n$ {shown}")
        cmd = ["ip", "netns", "exec", ns, sys.executable, "-m", "tightrope", *argv,
               *_ssh_options(box)]  # fmt: skip
        code = subprocess.run(cmd, check=False).returncode
        if code != 0:
            say(f"(exit {code}; the demo stops here)")
            return code
    say(f"\nThe drill's timeline: {picture}\nThe box stays up: `tightrope lab ssh --name "
        f"{lab.name} --host {SEED_TARGET}`; `tightrope lab down --name {lab.name}` ends it.")
    return 0
