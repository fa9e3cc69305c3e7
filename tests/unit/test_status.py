from __future__ import annotations

from pathlib import Path

from tests.unit.builders import ETH0_MAC, netplan_start
from tightrope.core.status import report_from_dict, status_report


def test_status_without_bond_names_every_claim() -> None:
    snap = netplan_start(profiles=[
        {"uuid": "u-wired", "id": "Wired connection 1", "type": "802-3-ethernet",
         "interface": None, "flags": 0,
         "filename": "/etc/NetworkManager/system-connections/Wired connection 1.nmconnection",
         "settings": {"802-3-ethernet": {"mac-address": ETH0_MAC}}},
        {"uuid": "u-pre", "id": "preconfigured", "type": "802-11-wireless", "interface": None,
         "flags": 0,
         "filename": "/etc/NetworkManager/system-connections/preconfigured.nmconnection",
         "settings": {}},
    ])
    report = status_report(snap)
    devices = {d.interface: d for d in report.devices}
    assert report.bonds == ()
    assert devices["eth0"].claimed_by == ("Wired connection 1 (wired-default, etc)",)
    assert devices["wlan0"].claimed_by == ("preconfigured (rpios-preconfigured, etc)",)
    assert report.storage_world == "keyfile"


def test_status_tells_how_a_change_cut_by_a_reboot_ended(tmp_path: Path) -> None:
    """A power cut while a change awaited confirmation: the box booted the old network, and
    status (as root) ends that transaction with the reason and shows it as the last change."""
    from tests.unit.fakebox import FakeBox, FakeClock
    from tests.unit.test_plan import seed_config
    from tightrope.box import glance
    from tightrope.box.env import BoxEnv
    from tightrope.core.plan import make_plan
    from tightrope.txn import control
    from tightrope.txn.state import Store

    box, clock = FakeBox(netplan_start()), FakeClock()
    store = Store(tmp_path)
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    started = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                            launch=lambda txn_id, secrets: None)  # fmt: skip
    after_cut = BoxEnv(store=store, clock=clock, boot_id=lambda: "boot-2",
                       read_snapshot=lambda s: box.snapshot(include_secrets=s),
                       launch=lambda t, s: None, require_root=lambda: None,
                       is_root=lambda: True)  # fmt: skip
    report = glance.status(after_cut)
    assert report.pending is None and report.last is not None
    assert report.last.id == started.state.id and report.last.outcome == "aborted"
    assert "rebooted before confirmation" in report.last.reason
    again = report_from_dict(report.to_dict())
    assert again.last == report.last


def test_a_device_that_is_not_active_says_why_in_the_admin_s_words() -> None:
    """A Wi-Fi port committed without waiting for it: `status` tells a refused PSK."""
    from dataclasses import replace

    from tests.unit.builders import netplan_start
    from tightrope.core.status import status_report

    snap = netplan_start()
    wlan0 = replace(snap.device("wlan0"), state="disconnected", state_reason="no-secrets",
                    active_profile=None)  # fmt: skip
    eth0 = replace(snap.device("eth0"), state="unavailable", state_reason="carrier")
    snap = replace(snap, devices=tuple({"wlan0": wlan0, "eth0": eth0}.get(d.interface, d)
                                       for d in snap.devices))  # fmt: skip
    why = {d.interface: d.why for d in status_report(snap).devices}
    assert why["wlan0"] == "the Wi-Fi passphrase (PSK) was refused: check it"
    assert why["eth0"] is None  # a pulled cable: the link column says it
