from __future__ import annotations

from tests.unit.builders import ETH0_MAC, netplan_start
from tightrope.core.status import status_report


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
