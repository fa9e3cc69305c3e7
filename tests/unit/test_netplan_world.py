"""Ubuntu's netplan-backed NetworkManager, from fixture trees that reproduce its facts
(../shared/anchors.md): the Debian lab cannot boot that NetworkManager, so these are pure."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tests.unit.test_plan import PSK, seed_config
from tightrope.core.plan import make_plan
from tightrope.core.profiles import profile_uuid
from tightrope.core.snapshot import Snapshot
from tightrope.txn import control, runner
from tightrope.txn.state import Store

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
    assert plan.storage.world == "netplan"
    assert "50-cloud-init.yaml" in plan.storage.summary and "90-NM" in plan.storage.summary
    files = {(f.action, f.path) for f in plan.storage.files}
    assert ("edit", "/etc/netplan/50-cloud-init.yaml") in files
    assert ("create", f"/etc/netplan/90-NM-{profile_uuid('bond0')}.yaml") in files
    assert "psk-in-yaml" in {w.code for w in plan.warnings}
    assert PSK not in str(plan.to_dict())


def test_keyfile_world_says_keyfiles() -> None:
    plan = make_plan(seed_config(), netplan_start())
    assert plan.storage.world == "keyfile" and "keyfiles" in plan.storage.summary
    assert "psk-in-yaml" not in {w.code for w in plan.warnings}
    assert any(f.path.startswith("/etc/NetworkManager/system-connections/bond0")
               for f in plan.storage.files)


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
