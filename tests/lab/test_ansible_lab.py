"""The Ansible collection against two lab boxes, from the admin's laptop (its namespace).

box0 gets the lab's PSK, box1 a wrong one. The example play (canary first, stop at the first
failure) must leave box0 bonded and committed at 198.18.1.64 and box1 rolled back by itself and
answering at its old address, and say so for each; with box1's PSK fixed the next run commits
it and leaves box0 alone; the same run once more changes nothing anywhere.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.ansible.playbook import EXAMPLES, Run, build_and_install, playbook
from tests.lab.boxtools import install, profiles, wait_ssh
from tightrope.lab import LAB_PSK, LAB_SSID, Box, Lab

pytestmark = pytest.mark.lab

WRONG_PSK = "not-the-lab-passphrase"
NEW = {"box0": "198.18.1.64", "box1": "198.18.1.65"}
OLD = {"box0": "198.18.1.50", "box1": "198.18.1.60"}


def _inventory(lab: Lab, tmp: Path, box1_psk: str = WRONG_PSK) -> Path:
    box0, _ = lab.boxes
    ssh_args = " ".join([
        "-F /dev/null", "-o IdentitiesOnly=yes",
        f"-o UserKnownHostsFile={box0.known_hosts}", "-o GlobalKnownHostsFile=/dev/null",
        "-o StrictHostKeyChecking=yes",
        # A master connection to an address the box has left must die, not hang the next task.
        "-o ServerAliveInterval=2", "-o ServerAliveCountMax=3",
    ])  # fmt: skip
    hosts = {
        "box0": {"ansible_host": OLD["box0"], "tightrope_address": f"{NEW['box0']}/24",
                 "tightrope_psk": LAB_PSK},
        # Every port verified on box1: its wrong PSK rolls it back (by default its cable
        # would carry the bond without Wi-Fi).
        "box1": {"ansible_host": OLD["box1"], "tightrope_address": f"{NEW['box1']}/24",
                 "tightrope_psk": box1_psk, "tightrope_verify_all_ports": True},
    }  # fmt: skip
    group_vars: dict[str, Any] = {
        "ansible_user": "root",
        "ansible_ssh_private_key_file": str(box0.image.key),
        "ansible_ssh_common_args": ssh_args,
        # As the example inventory: the key at the new address is the one of the old address.
        "ansible_ssh_extra_args":
            "-o HostKeyAlias={{ tightrope_old_address | default(ansible_host) }}",
        "ansible_ssh_transfer_method": "piped",  # the lab image has no sftp-server
        "ansible_python_interpreter": "/usr/bin/python3",
        "tightrope_ports": {"eth0": {"type": "ethernet"},
                            "wlan0": {"type": "wifi", "ssid": LAB_SSID}},
        "tightrope_gateway": "198.18.1.1",
        "tightrope_dns": ["198.18.1.1"],
        "tightrope_confirm_timeout": 30,
        "tightrope_verify_timeout": 40,
        "tightrope_rollback_wait": 240,
    }  # fmt: skip
    path = tmp / "inventory.yml"
    # Host order is batch order: box0 is the canary.
    path.write_text(yaml.safe_dump({"boxes": {"hosts": hosts, "vars": group_vars}},
                                   sort_keys=False))  # fmt: skip
    return path


def _run(lab: Lab, collections: Path, tmp: Path, *extra: str) -> Run:
    """The example play from the laptop namespace, as an admin would run it."""
    t0 = time.monotonic()
    run = playbook(
        ["-i", str(tmp / "inventory.yml"), str(EXAMPLES / "bond.yml"), *extra],
        collections=collections, workdir=tmp, timeout=900,
        prefix=["ip", "netns", "exec", lab.topology.laptop_ns],
        env={"ANSIBLE_CONFIG": str(EXAMPLES / "ansible.cfg")},  # the example's: pipelining
    )  # fmt: skip
    print(f"ansible-playbook {' '.join(extra)}: rc {run.rc} in {time.monotonic() - t0:.0f} s; "
          f"recap {run.recap()}")  # fmt: skip
    return run


def _status(box: Box, host: str) -> dict[str, Any]:
    pyz = box.ssh("ls /var/cache/tightrope/tightrope-*.pyz", host=host, timeout=30, check=True)
    cp = box.ssh(f"python3 {pyz.stdout.split()[0]} status --json", host=host, timeout=60,
                 check=True)  # fmt: skip
    status: dict[str, Any] = json.loads(cp.stdout)
    return status


def _answers(box: Box, host: str) -> bool:
    return box.ssh("true", host=host, timeout=12).returncode == 0


def test_ansible_fleet_commits_the_good_box_and_reports_the_rolled_back_one(
    netplan_pair: Lab, tmp_path: Path
) -> None:
    lab = netplan_pair
    box0, box1 = lab.boxes
    collections = build_and_install(tmp_path)
    _inventory(lab, tmp_path)
    # The profiles (secrets too) as NetworkManager has them, read with the collection's zipapp.
    (pyz,) = collections.glob("ansible_collections/tightrope/network/files/tightrope-*.pyz")
    install(box1, pyz, OLD["box1"])
    box1_before = profiles(box1, OLD["box1"])

    first = _run(lab, collections, tmp_path)
    everything = first.stdout + first.stderr + json.dumps(first.records)
    assert first.rc == 2, first.stdout[-5000:] + first.stderr[-2000:]  # a host failed
    recap = first.recap()
    assert recap["box0"]["failed"] == 0 and recap["box0"]["unreachable"] == 0, recap
    assert recap["box1"]["failed"] == 1 and recap["box1"]["unreachable"] == 0, recap

    # box0: bonded, committed, at its new address, on the cable.
    good = first.journey("box0")
    assert good["outcome"] == "committed" and good["address"] == NEW["box0"], good
    assert first.last("box0", "Confirm (commit)")["result"]["outcome"] == "committed"
    status = _status(box0, NEW["box0"])
    (bond,) = status["bonds"]
    assert bond["active_port"] == "eth0" and bond["mode"] == "active-backup", bond
    assert not _answers(box0, OLD["box0"])

    # box1: rolled back by itself, at its old address, and the play says why.
    bad = first.journey("box1")
    print(f"box1: {bad['outcome']}: {bad['reason']} (controller saw: {bad['controller_saw']})")
    assert bad["outcome"] == "rolled-back" and bad["reason"], bad
    assert bad["address"] == OLD["box1"]
    failed = first.last("box1", "Fail the host")
    assert failed["status"] == "failed" and failed["result"]["msg"].startswith("rolled-back: ")
    wait_ssh(box1, OLD["box1"], 60)
    assert not _answers(box1, NEW["box1"])
    assert profiles(box1, OLD["box1"]) == box1_before
    assert not _status(box1, OLD["box1"])["bonds"]

    for secret in (LAB_PSK, WRONG_PSK):
        assert secret not in everything, "a PSK showed in the play's output"

    # The operator fixes box1's PSK: box0 (now found at its bond's address) is left alone.
    _inventory(lab, tmp_path, box1_psk=LAB_PSK)
    second = _run(lab, collections, tmp_path)
    assert second.rc == 0, second.stdout[-5000:] + second.stderr[-2000:]
    assert second.journey("box0")["outcome"] == "no-change"
    assert second.last("box0", "Plan, and start")["result"]["changed"] is False
    assert second.journey("box1")["outcome"] == "committed"
    assert second.journey("box1")["address"] == NEW["box1"]

    # Idempotence: the same play once more reports no change anywhere.
    third = _run(lab, collections, tmp_path)
    assert third.rc == 0, third.stdout[-5000:]
    recap = third.recap()
    assert recap["box0"]["changed"] == 0 and recap["box1"]["changed"] == 0, recap
    assert {third.journey(b)["outcome"] for b in ("box0", "box1")} == {"no-change"}
