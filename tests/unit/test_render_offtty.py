"""Off a terminal nothing is cut: no ellipsis, every value whole, whatever its length."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SNAPSHOTS = Path(__file__).parents[1] / "fixtures" / "snapshots"


def test_status_through_a_pipe_prints_every_value_whole() -> None:
    out = subprocess.run([sys.executable, "-m", "tightrope", "status", "--from-snapshot",
                          str(SNAPSHOTS / "netplan-start.json")], capture_output=True,
                         text=True, check=True, timeout=60).stdout  # fmt: skip
    assert "…" not in out
    assert "netplan-wlan0-TightropeLab" in out
    # Wider than an 80-column guess at a terminal there is not: the table kept its width.
    assert max(len(line) for line in out.splitlines()) > 80
