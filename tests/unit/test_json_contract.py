"""--json is one document or JSON lines (docs/json.md), never documents in a row."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tightrope.cli import render_txn
from tightrope.proto import Step, TxnView

SNAPSHOTS = Path(__file__).parents[1] / "fixtures" / "snapshots"
T = "20261129-203745-61b9"


def _view(phase: str, outcome: str | None = None, steps: int = 0) -> TxnView:
    return TxnView(id=T, txn_kind="apply", phase=phase, outcome=outcome, reason="",
                   reconnect_at="198.18.1.64", deadline_in_s=100.0 if outcome is None else None,
                   created=0.0, steps=tuple(Step(name=f"s{i}", status="done", at=float(i))
                                            for i in range(steps)))  # fmt: skip


def test_a_local_apply_streams_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    render_txn.started(_view("running"), as_json=True)
    render_txn.follow([_view("verifying", steps=2), _view("awaiting-confirm", steps=3),
                       _view("committed", "committed", steps=4)], as_json=True)  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line)["event"] for line in lines]
    assert events == ["started", "step", "step", "step", "awaiting-confirm", "step", "outcome"]


def test_status_and_plan_are_one_document(tmp_path: Path) -> None:
    config = tmp_path / "bond.yaml"
    config.write_text("ports:\n  eth0: {type: ethernet}\n  wlan0: {type: wifi, ssid: Lab, "
                      "psk: \"correct horse\"}\nipv4:\n  addresses: [198.18.1.64/24]\n"
                      "  gateway: 198.18.1.1\n")  # fmt: skip
    config.chmod(0o600)
    snap = str(SNAPSHOTS / "netplan-start.json")
    for argv, codes in ((["status", "--from-snapshot", snap, "--json"], (0,)),
                        (["plan", str(config), "--from-snapshot", snap, "--json"], (0, 10))):
        cp = subprocess.run([sys.executable, "-m", "tightrope", *argv], capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
        assert cp.returncode in codes, cp.stderr
        assert isinstance(json.loads(cp.stdout), dict)  # raises on documents in a row
        assert "correct horse" not in cp.stdout
