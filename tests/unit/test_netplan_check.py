"""HostSystem.netplan_check: netplan judges the files a commit would write, in a scratch root,
and the box's own /etc/netplan is left alone. A stand-in `netplan` on PATH plays the generator
(the real one is exercised in the lab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tightrope.txn.nmbackend import HostSystem

FAKE_NETPLAN = """#!/bin/sh
# args: generate --root-dir DIR
root="$3"
find "$root" -name '*.yaml' | sort | while read -r f; do
    echo "${f#$root} $(stat -c %a "$f") $(head -c 40 "$f" | tr '\\n' ' ')"
done > "%LOG%"
if grep -rq 'broken' "$root/etc/netplan"; then
    echo "$root/etc/netplan/90-tightrope-bond0.yaml:3:5: Error in network definition: broken" >&2
    exit 1
fi
if grep -rq 'bonds' "$root/etc/netplan"; then
    mkdir -p "$root/run/NetworkManager/system-connections"
    touch "$root/run/NetworkManager/system-connections/netplan-bond0.nmconnection"
fi
"""


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[HostSystem, Path, Path]:
    root = tmp_path / "root"
    (root / "etc/netplan").mkdir(parents=True)
    (root / "lib/netplan").mkdir(parents=True)
    (root / "etc/netplan/50-cloud-init.yaml").write_text("network:\n  ethernets: {eth0: {}}\n")
    (root / "lib/netplan/00-nm.yaml").write_text("network:\n  renderer: NetworkManager\n")
    bin_dir, log = tmp_path / "bin", tmp_path / "netplan.log"
    bin_dir.mkdir()
    exe = bin_dir / "netplan"
    exe.write_text(FAKE_NETPLAN.replace("%LOG%", str(log)))
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    # No generator binary of the host's: the stand-in on PATH plays netplan's CLI.
    return HostSystem(str(root), generators=()), root, log


def test_accepted_files_render_the_bond(box: tuple[HostSystem, Path, Path]) -> None:
    system, root, log = box
    own = "/etc/netplan/90-tightrope-bond0.yaml"
    edited = "/etc/netplan/50-cloud-init.yaml"
    files = {own: b"network:\n  bonds: {bond0: {}}\n", edited: b"network: {}\n"}
    assert system.netplan_check(files, "bond0") is None
    seen = log.read_text()
    # The scratch root held the box's files with ours laid over them, all 0600.
    assert "/lib/netplan/00-nm.yaml 600 network:   renderer" in seen
    assert f"{edited} 600 network: {{}}" in seen and f"{own} 600 network:   bonds" in seen
    # The box itself is untouched.
    assert not (root / own.lstrip("/")).exists()
    assert "eth0" in (root / edited.lstrip("/")).read_text()


def test_netplans_complaint_comes_back_in_the_boxs_paths(
    box: tuple[HostSystem, Path, Path],
) -> None:
    system, _, _ = box
    said = system.netplan_check({"/etc/netplan/90-tightrope-bond0.yaml": b"broken"}, "bond0")
    assert said == ("/etc/netplan/90-tightrope-bond0.yaml:3:5: Error in network definition: "
                    "broken")  # fmt: skip


def test_no_bond_rendered_is_a_complaint(box: tuple[HostSystem, Path, Path]) -> None:
    system, _, _ = box
    said = system.netplan_check({"/etc/netplan/90-tightrope-bond0.yaml": b"network: {}"}, "bond0")
    assert said == "netplan rendered no NetworkManager profile for bond0"


def test_no_netplan_at_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    said = HostSystem(str(tmp_path), generators=()).netplan_check({}, "bond0")
    assert said is not None and "not installed" in said


def test_the_generator_itself_is_run_when_there_is_one(
    box: tuple[HostSystem, Path, Path], tmp_path: Path
) -> None:
    """`netplan generate` only wraps the generator (and takes a second or two to start its
    Python on a small box): where the binary is, it is run with the same arguments."""
    system, root, log = box
    gen = tmp_path / "generate"
    # The CLI stand-in reads the root from its third argument, the generator from its second.
    gen.write_text(FAKE_NETPLAN.replace("%LOG%", str(log)).replace('root="$3"', 'root="$2"'))
    gen.chmod(0o755)
    direct = HostSystem(str(root), generators=(str(tmp_path / "absent"), str(gen)))
    assert direct._generate_argv() == [str(gen)]
    files = {"/etc/netplan/90-tightrope-bond0.yaml": b"network:\n  bonds: {bond0: {}}\n"}
    assert direct.netplan_check(files, "bond0") is None
    assert "/etc/netplan/90-tightrope-bond0.yaml 600 network:   bonds" in log.read_text()
    assert system._generate_argv() is not None and system._generate_argv()[1:] == ["generate"]
