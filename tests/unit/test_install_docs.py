"""The README's install command is the one scripts/test runs as a newcomer, and what it relies
on holds: scripts/install takes the overrides the test phase passes, installs the extra the
demo's picture needs, and lab commands work for root and for a user with sudo alike."""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path

import pytest

from tightrope.cli import render
from tightrope.cli.cmd_lab import sudo_argv
from tightrope.core.status import BondStatus, PortStatus, StatusReport
from tightrope.errors import LabError, TightropeError
from tightrope.lab.demo import ports_up

ROOT = Path(__file__).resolve().parents[2]


def _readme_install_command() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Install\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "the Install section has no sh block"
    lines = [ln for ln in block.group(1).splitlines() if ln.strip()]
    assert len(lines) == 1, f"the install command should be one line: {lines}"
    return lines[0]


def _newcomer_phase() -> tuple[str, str]:
    """scripts/test's newcomer command and the text of the phase that runs it."""
    script = (ROOT / "scripts" / "test").read_text()
    m = re.search(r"^newcomer_cmd=(.*)$", script, re.M)
    assert m, "scripts/test has no newcomer_cmd"
    (cmd,) = shlex.split(m.group(1))
    return cmd, script[m.end() :]


def test_readme_install_command_is_the_one_ci_runs() -> None:
    cmd, phase = _newcomer_phase()
    assert _readme_install_command() == cmd
    assert 'bash -c "$newcomer_cmd"' in phase
    # ... from a clean clone, with what scripts/install puts in place first on the PATH.
    assert "git clone" in phase
    for var in ("TIGHTROPE_PREFIX", "TIGHTROPE_BIN_DIR"):
        assert f'{var}="$newcomer/' in phase
    assert 'PATH="$newcomer/bin:$PATH"' in phase


def test_install_script_takes_the_overrides_and_installs_the_plot_extra() -> None:
    script = ROOT / "scripts" / "install"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    header = text.split("set -euo pipefail", 1)[0]
    for var in ("TIGHTROPE_PREFIX", "TIGHTROPE_BIN_DIR"):
        assert var in header, f"{var} is not documented in the header"
        assert "${" + var + ":-" in text
    assert '"$src[plot]"' in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r'^plot = \[[^]]*"matplotlib', pyproject, re.M), "no matplotlib in [plot]"


def test_install_deps_makes_venvs_possible() -> None:
    assert re.search(r"^\s+python3-venv\b", (ROOT / "scripts" / "install-deps").read_text(), re.M)


def test_a_hint_keeps_its_square_brackets(capsys: pytest.CaptureFixture[str]) -> None:
    # rich took `[plot]` for markup and printed "pip install 'tightrope'".
    render.error(TightropeError("the picture needs matplotlib", hint="pip install 'x[plot]'"))
    assert "pip install 'x[plot]'" in capsys.readouterr().err


def test_lab_commands_run_as_root_directly() -> None:
    assert sudo_argv(["lab", "demo"], euid=0, sudo="/usr/bin/sudo", python="/py") is None


def test_lab_commands_rerun_through_sudo_with_the_same_interpreter() -> None:
    argv = sudo_argv(["lab", "demo", "--picture", "a b.png"], euid=1000,
                     sudo="/usr/bin/sudo", python="/opt/tightrope/venv/bin/python")  # fmt: skip
    assert argv == ["/usr/bin/sudo", "--", "/opt/tightrope/venv/bin/python", "-m", "tightrope",
                    "lab", "demo", "--picture", "a b.png"]  # fmt: skip


def test_lab_commands_without_root_or_sudo_say_so() -> None:
    with pytest.raises(LabError, match=r"needs root.*no sudo"):
        sudo_argv(["lab", "up"], euid=1000, sudo=None, python="/py")


def _port(i: int, link: str) -> PortStatus:
    return PortStatus(interface=f"p{i}", type="ethernet", state="activated", link=link,
                      speed=None, ssid=None, signal=None, permanent_mac=None,
                      mac="52:54:00:00:00:01", link_failures=0, active=i == 0)  # fmt: skip


def _report(*links: str) -> dict[str, object]:
    ports = tuple(_port(i, link) for i, link in enumerate(links))
    bond = BondStatus(name="bond0", state="activated", profile="bond0", mode="active-backup",
                      mii_status="up", miimon_ms=100, active_port="p0", primary="p0",
                      fail_over_mac="active", ports=ports, addresses=(), gateway=None,
                      dns=())  # fmt: skip
    report = StatusReport(hostname="box", nm_version="1.42.4", storage_world="keyfile",
                          bonds=(bond,), devices=(), checkpoints=0)  # fmt: skip
    loaded: dict[str, object] = json.loads(json.dumps(report.to_dict()))
    return loaded


def test_the_demo_drills_only_once_both_ports_are_up() -> None:
    # Or the drill refuses (no backup port) and the demo dies at its last step.
    assert ports_up(_report("up", "up"))
    assert not ports_up(_report("up", "down"))
    assert not ports_up(_report("up"))
    assert not ports_up({"bonds": []})
    assert not ports_up(None)
