"""Ubuntu's netplan-backed NetworkManager, from fixture trees that reproduce its facts
(../shared/anchors.md): the Debian lab cannot boot that NetworkManager, so these are pure."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

import pytest

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tests.unit.test_plan import PSK, seed_config
from tightrope.cli import render
from tightrope.core.model import BondConfig
from tightrope.core.netplan_yaml import render as render_yaml
from tightrope.core.plan import make_plan
from tightrope.core.snapshot import Snapshot
from tightrope.core.status import status_report
from tightrope.core.storage import CommitAs
from tightrope.txn import control, runner
from tightrope.txn.state import Store

OWN = "/etc/netplan/90-tightrope-bond0.yaml"
CLOUD_INIT = """\
# This file is generated from information provided by the datasource.  Changes
# to it will not persist across an instance reboot.
network:
  version: 2
  renderer: NetworkManager
  ethernets:
    eth0:               # onboard
      dhcp4: true
    usb-dongle:
      match:
        macaddress: "aa:bb:cc:dd:ee:ff"
      set-name: usb0
      dhcp4: true
  wifis:
    wlan0:
      dhcp4: true
      access-points:
        "TightropeLab":
          password: "x"
"""


def ubuntu_start() -> Snapshot:
    snap = netplan_start()
    return replace(snap, nm_uses_netplan=True,
                   netplan_files={"/etc/netplan/50-cloud-init.yaml": CLOUD_INIT})


def test_plan_names_the_world_and_the_files() -> None:
    plan = make_plan(seed_config(), ubuntu_start())
    assert plan.storage.world == "netplan" and plan.storage.commit_as is CommitAs.NETPLAN
    assert "50-cloud-init.yaml" in plan.storage.summary and OWN in plan.storage.summary
    files = {(f.action, f.path) for f in plan.storage.files}
    assert files == {("edit", "/etc/netplan/50-cloud-init.yaml"), ("create", OWN)}
    assert "psk-in-yaml" in {w.code for w in plan.warnings}
    assert "bonds:" in plan.storage.netplan_yaml and "********" in plan.storage.netplan_yaml
    assert PSK not in str(plan.to_dict())


def test_debian_with_netplan_commits_netplan_too() -> None:
    plan = make_plan(seed_config(), netplan_start())
    assert plan.storage.world == "keyfile" and plan.storage.commit_as is CommitAs.NETPLAN
    assert ("create", OWN) in {(f.action, f.path) for f in plan.storage.files}
    retire = next(c for c in plan.changes if c.profile == "netplan-eth0")
    assert "active now: deactivated at apply, gone at commit with its stanza" in retire.details


def test_box_without_netplan_says_keyfiles() -> None:
    plan = make_plan(seed_config(), netplan_start(netplan_files={}))
    assert plan.storage.commit_as is CommitAs.KEYFILES and "keyfiles" in plan.storage.summary
    assert "psk-in-yaml" not in {w.code for w in plan.warnings}
    assert any(f.path.startswith("/etc/NetworkManager/system-connections/bond0")
               for f in plan.storage.files)


def test_our_own_file_is_never_a_stanza_to_remove() -> None:
    # After a commit: the ports are defined by tightrope's file only.
    snap = replace(netplan_start(), netplan_files={OWN: render_yaml(seed_config(), reveal=True)})
    plan = make_plan(seed_config(), snap)
    assert plan.discovery.netplan == () and plan.discovery.netplan_own == OWN
    assert plan.storage.commit_as is CommitAs.NETPLAN


def test_world_detected_from_90_nm_files_alone() -> None:
    snap = netplan_start()
    p = replace(snap.profiles[0], filename="/etc/netplan/90-NM-u-eth0.yaml")
    plan = make_plan(seed_config(), replace(snap, profiles=(p, *snap.profiles[1:])))
    assert plan.storage.world == "netplan"


def test_commit_edits_yaml_itself_and_never_asks_nm_to_delete_it(tmp_path: Path) -> None:
    box, clock = FakeBox(ubuntu_start()), FakeClock()
    store = Store(tmp_path)
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    txn_id = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                           launch=lambda t, s: None).state.id
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                       secrets={"wlan0": PSK}, out=io.StringIO())
    assert final.outcome == "committed", final.reason
    assert not [c for c in box.calls if c.startswith("delete netplan-")]
    text = box.files["/etc/netplan/50-cloud-init.yaml"].decode()
    assert "# This file is generated" in text and "# onboard" not in text
    assert "usb-dongle" in text and "eth0" not in text and "wlan0" not in text
    backup = (tmp_path / "txn" / txn_id / "backup" / "netplan-etc_netplan_50-cloud-init.yaml")
    assert backup.read_text() == CLOUD_INIT
    assert OWN in box.files and not [c for c in box.calls if c.endswith(" disk")]


def test_status_names_the_yaml_the_running_bond_came_from(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    store = Store(tmp_path)
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    txn_id = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                           launch=lambda t, s: None).state.id
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                       secrets={"wlan0": PSK}, out=io.StringIO())
    assert final.outcome == "committed", final.reason
    (bond,) = status_report(box.snapshot()).bonds
    assert bond.source == OWN
    # Planned again: nothing to do, and nothing of ours to remove.
    again = make_plan(config, box.snapshot(include_secrets=True))
    assert again.no_change and again.storage.files == ()


def test_plan_shows_the_yaml_with_the_psk_masked(capsys: pytest.CaptureFixture[str]) -> None:
    plan = make_plan(seed_config(), netplan_start())
    render.plan(plan, hostname="pi", nm_version="1.42.4", as_json=False)
    out = capsys.readouterr().out
    assert f"{OWN} will read (PSK masked):" in out and "bond0-port-wlan0:" in out
    assert "password: '********'" in out and PSK not in out


def test_a_reapply_rewrites_our_file_and_undo_gives_the_old_one_back(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(store.pending_id() or "", "confirm"))

    def apply(config: BondConfig) -> None:
        plan = make_plan(config, box.snapshot(include_secrets=True))
        txn_id = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                               launch=lambda t, s: None).state.id  # fmt: skip
        final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                           secrets={"wlan0": PSK}, out=io.StringIO())  # fmt: skip
        assert final.outcome == "committed", final.reason

    apply(seed_config())
    first = box.files[OWN]
    moved = seed_config(**{"mii-monitor-interval": 200})
    plan = make_plan(moved, box.snapshot(include_secrets=True))
    assert ("rewrite", OWN) in {(f.action, f.path) for f in plan.storage.files}
    apply(moved)
    assert box.files[OWN] != first and b"mii-monitor-interval: 200" in box.files[OWN]
    # Undo of the re-apply: our file as the first apply wrote it, byte for byte.
    undo = control.start_undo(store, clock=clock, boot_id="boot-1", launch=lambda t, s: None)
    final = runner.run(undo.state.id, store=store, backend=box, system=box, clock=clock,
                       secrets={}, out=io.StringIO())  # fmt: skip
    assert final.outcome == "committed", final.reason
    assert box.files[OWN] == first
