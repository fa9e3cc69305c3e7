"""The remote journey as an admin sees it in a real terminal (issue 14 item 8): run in a
pseudo-terminal, the countdown shows while the box moves and the final result is whole; piped
(a log file, `| tee`, CI), nothing is cut, the reason is there in full.

One lab box (netplan start state, reset to pristine for each run), two journeys.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.lab.boxtools import NEW, OLD, wait_ssh
from tests.lab.test_remote_lab import FAST, _ArgvWatch, _laptop_argv
from tightrope.lab import LAB_PSK, LAB_SSID, Box, Lab

pytestmark = pytest.mark.lab
pexpect = pytest.importorskip("pexpect")

PSK_REASON = f"the access point '{LAB_SSID}' refused the PSK for wlan0; check the passphrase"
# The live line: back to column 0, clear the line, then what is awaited, the seconds so far
# and (while following the box) the rollback deadline.
LIVE = re.compile(r"\r\x1b\[K((?:waiting for|confirming at) 198\.18\.1\.64[^\r\n]*?: \d+ s"
                  r"(?:, rollback in \d+ s)?)")  # fmt: skip
ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


def _bond_argv(lab: Lab, box: Box, tmp_path: Path, psk: str, *extra: str) -> list[str]:
    psk_file = tmp_path / "wlan0.psk"
    psk_file.write_text(psk)
    psk_file.chmod(0o600)
    return _laptop_argv(lab, box, "bond", "--ethernet", "eth0", "--wifi", "wlan0", "--ssid",
                        LAB_SSID, "--psk-file", str(psk_file), "--address", f"{NEW}/24",
                        "--gateway", "198.18.1.1", "--dns", "198.18.1.1",
                        "--host", f"root@{OLD}", "--yes", *FAST, *extra)  # fmt: skip


def _env() -> dict[str, str]:
    # The terminal's size is the pty's: a COLUMNS inherited from the test runner would win.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**env, "TERM": "xterm-256color"}


# One real terminal, the narrow one: the size comes from the pty, and the journey's table at
# any width (40 to 10,000 columns) is tests/unit/test_render_hostile.py's. 200 columns here
# cost a whole journey (80 s of the emulated box) and proved the same.
@pytest.mark.parametrize("columns", [80])
def test_journey_in_a_terminal_counts_down_and_ends_whole(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path, columns: int
) -> None:
    t0 = time.monotonic()
    watch = _ArgvWatch()
    # Every port verified: the result has no "why" (wlan0 still joining, by default), whose
    # key: value line a narrow terminal would wrap by itself.
    child = pexpect.spawn(*_split(_bond_argv(netplan_lab, netplan_box, tmp_path, LAB_PSK,
                                             "--verify-all-ports")),
                          env=_env(), dimensions=(50, columns), encoding="utf-8",
                          timeout=600)  # fmt: skip
    child.expect(pexpect.EOF)
    child.close()
    watch.stop()
    assert LAB_PSK not in watch.seen, "the PSK showed in a laptop-side argv"
    raw: str = child.before
    took = time.monotonic() - t0
    text = ANSI.sub("", raw)
    assert child.exitstatus == 0, text[-3000:]
    live = LIVE.findall(raw)
    print(f"\n{columns} columns: {took:.0f} s, {len(live)} countdown redraws, e.g. "
          f"{live[:1]} ... {live[-1:]}")  # fmt: skip
    assert len(live) >= 3, text[-3000:]
    assert any("rollback in" in ln for ln in live), live
    assert all(len(ln) <= columns for ln in live)  # the live line never wraps onto two
    assert "…" not in text
    lines = [ln.rstrip() for ln in re.split(r"\r\n|\n|\r", text)]
    if columns >= 120:  # the table fits: header and the row each on one line
        assert any(re.match(r"\s*host\s+old address\s+new address\s+outcome\s+outage\s+took",
                            ln) for ln in lines), text[-2000:]  # fmt: skip
        assert any(re.match(rf"\s*root@{re.escape(OLD)}\s+{re.escape(OLD)}\s+{re.escape(NEW)}"
                            r"\s+committed\s+\d+\.\d+ s\s+\d+ s", ln) for ln in lines)  # fmt: skip
    else:  # too narrow for the table: the same as key: value lines, every value whole
        for key, value in (("host", f"root@{OLD}"), ("old address", OLD),
                           ("new address", NEW), ("outcome", "committed")):  # fmt: skip
            assert any(re.match(rf"{key}:\s+{re.escape(value)}$", ln) for ln in lines), key
        assert any(re.match(r"outage:\s+\d+\.\d+ s$", ln) for ln in lines)
    assert max(len(ln) for ln in lines) <= columns, "rich drew past the terminal's edge"
    print("\n".join(ln for ln in lines[-10:] if ln))  # the end, as the admin saw it


def test_piped_journey_cuts_nothing_and_gives_the_whole_reason(
    netplan_lab: Lab, netplan_box: Box, tmp_path: Path
) -> None:
    t0 = time.monotonic()
    # Every port verified: the wrong PSK rolls the change back (by default the cable would
    # carry the bond and the reason would say wlan0 is not in it).
    cp = subprocess.run(_bond_argv(netplan_lab, netplan_box, tmp_path, "not-the-lab-passphrase",
                                   "--verify-all-ports"),
                        capture_output=True, text=True, env=_env(), timeout=600)  # fmt: skip
    took = time.monotonic() - t0
    assert cp.returncode == 1, cp.stdout[-3000:] + cp.stderr[-3000:]
    out = cp.stdout
    print(f"\npiped, wrong PSK: {took:.0f} s; {len(out.splitlines())} lines")
    assert "…" not in out and "\x1b" not in out and "\r" not in out
    (row,) = [ln for ln in out.splitlines() if ln.strip().startswith(f"root@{OLD} ")]
    assert re.search(rf"{re.escape(NEW)}\s+rolled-back\s+\d+ s\s+{re.escape(PSK_REASON)}$",
                     row.rstrip()), row  # fmt: skip
    assert LAB_PSK not in out + cp.stderr
    print("\n".join(out.splitlines()[-4:]))
    wait_ssh(netplan_box, OLD, 60)


def _split(argv: list[str]) -> tuple[str, list[str]]:
    return argv[0], argv[1:]
