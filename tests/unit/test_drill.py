from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.unit.builders import netplan_start
from tightrope.core.drill import (
    DrillPlan,
    DrillRefused,
    DrillResult,
    drill_plan,
    parse_ping,
    result_from_dict,
    result_to_dict,
    sparkline,
)
from tightrope.core.snapshot import BondPortRuntime, BondRuntime, Device
from tightrope.prove.watch import describe_nm, describe_txn, parse_ip_monitor
from tightrope.txn.state import StepLog, TxnState

PING = """\
PING 198.18.1.1 (198.18.1.1) from 198.18.1.64 bond0: 56(84) bytes of data.
[1000.000000] 64 bytes from 198.18.1.1: icmp_seq=1 ttl=64 time=0.5 ms
[1000.010000] 64 bytes from 198.18.1.1: icmp_seq=2 ttl=64 time=0.6 ms
[1001.000000] no answer yet for icmp_seq=3
[1000.130000] 64 bytes from 198.18.1.1: icmp_seq=14 ttl=64 time=2.1 ms
""" + "".join(
    f"[{1000.14 + i * 0.01:.6f}] 64 bytes from 198.18.1.1: icmp_seq={15 + i} ttl=64 time=0.5 ms\n"
    for i in range(47)
)


def result(probes_text: str = PING) -> DrillResult:
    plan = DrillPlan("bond0", "eth0", ("wlan0",), "198.18.1.1")
    return DrillResult(
        plan,
        10.0,
        down_at=1000.011,
        up_at=1000.5,
        started=1000.0,
        ended=1000.6,
        probes=parse_ping(probes_text),
        miimon_ms=100,
    )


def test_parse_ping_and_outage() -> None:
    r = result()
    assert [p.seq for p in r.probes][:4] == [1, 2, 3, 14]
    assert r.probes[2].rtt_ms is None
    assert (r.sent, r.lost) == (51, 1)
    # Last reply before the pull at 1000.010, next at 1000.130: ~119 ms of silence.
    assert r.failover_ms == pytest.approx(119, abs=1)
    assert r.outage_ms(r.failover_ms) == pytest.approx(109, abs=1)
    assert result_from_dict(result_to_dict(r)) == r
    assert "v" in sparkline(r) and "^" in sparkline(r)


def test_no_outage_invented_past_the_last_probe() -> None:
    # ping's output ends at 1000.60 (last reply); the drill ended at 1002.0. The silence after
    # the last probe is not an outage: nobody was asking.
    r = replace(result(), ended=1002.0)
    assert r.failback_ms == pytest.approx(10, abs=1)


def bonded(active: str = "eth0", wlan_state: str = "activated", wlan_mii: str = "up"):  # type: ignore[no-untyped-def]
    snap = netplan_start()
    rt = BondRuntime(
        "active-backup",
        "up",
        100,
        active,
        "eth0",
        (
            BondPortRuntime("eth0", "up", "1000 Mbps", 0, "52:54:00:12:34:56"),
            BondPortRuntime("wlan0", wlan_mii, None, 0, "02:00:00:00:00:00"),
        ),
    )
    devices = tuple(
        replace(d, state=wlan_state) if d.interface == "wlan0" else d for d in snap.devices
    )
    bond = Device("bond0", "bond", "activated", True, ip4_gateway="198.18.1.1", bond=rt)
    return replace(snap, devices=(*devices, bond))


def test_drill_plan_needs_a_ready_backup() -> None:
    plan = drill_plan(bonded(), None, None)
    assert (plan.port, plan.backups, plan.target) == ("eth0", ("wlan0",), "198.18.1.1")
    with pytest.raises(DrillRefused, match="would cut the box off"):
        drill_plan(bonded(wlan_state="disconnected"), None, None)
    with pytest.raises(DrillRefused, match="would cut the box off"):
        drill_plan(bonded(wlan_mii="down"), None, None)
    with pytest.raises(DrillRefused, match="no bond"):
        drill_plan(netplan_start(), None, None)


def test_watch_parsers() -> None:
    assert (
        describe_nm(
            "StateChanged",
            "org.freedesktop.NetworkManager.Device",
            {"old": "activated", "new": "unavailable", "reason": "carrier"},
        )
        == "activated -> unavailable (carrier)"
    )
    assert describe_nm("PropertiesChanged", "x", {"Strength": 70}) == "signal 70%"
    assert describe_nm("PropertiesChanged", "x", {"Foo": 1}) is None
    assert describe_nm("PropertiesChanged", "x", {"Carrier": False}) == "carrier down"
    ev = parse_ip_monitor(
        "[2026-11-25T10:00:00.123456] 198.18.1.64/24 dev bond0 ... ".replace(
            "198.18.1.64/24", "inet 198.18.1.64/24"
        )
    )
    assert ev is not None and ev.subject == "bond0" and ev.what.startswith("added")
    gone = parse_ip_monitor("[2026-11-25T10:00:01.5] Deleted default via 198.18.1.1 dev eth0")
    assert gone is not None and gone.subject == "eth0" and gone.what.startswith("removed")


def _txn(phase: str, steps: tuple[StepLog, ...] = (), **kw: Any) -> TxnState:
    return TxnState(id="t1", kind="apply", phase=phase, created=0.0, boot_id="b", steps=steps, **kw)


def test_describe_txn_says_phase_changes_and_new_steps_once() -> None:
    first = _txn("activating", (StepLog("backup", "started", 1.0), StepLog("backup", "done", 2.0)))
    assert describe_txn(None, first, 0.0) == ["apply activating", "step backup done"]
    same = describe_txn(first, first, 0.0)
    assert same == []
    later = _txn("rolled-back", (*first.steps, StepLog("activate", "rolled-back", 3.0)),
                 reason="port wlan0: PSK refused")  # fmt: skip
    assert describe_txn(first, later, 0.0) == [
        "apply rolled-back: port wlan0: PSK refused",
        "step activate rolled-back",
    ]


def test_describe_txn_names_the_rollback_deadline_while_waiting() -> None:
    waiting = _txn("awaiting-confirm", deadline_boot=1061.0)
    (line,) = describe_txn(_txn("verifying"), waiting, 1000.0)
    assert line.startswith("apply awaiting-confirm (NetworkManager rolls back in 6")


# -- the dead path and who notices (issue 15) ----------------------------------------------


def test_a_dead_path_on_an_mii_bond_is_kept_short() -> None:
    from tightrope.core.drill import DrillFault

    plan = drill_plan(bonded(), None, None, DrillFault.PATH, 30)
    assert plan.fault == DrillFault.PATH
    with pytest.raises(DrillRefused, match=r"will not notice a dead path.*at most 30 s"):
        drill_plan(bonded(), None, None, DrillFault.PATH, 31)
    # With the ARP monitor it is the drill's normal length.
    snap = bonded()
    arp = tuple(replace(d, bond=replace(d.bond, mii_interval_ms=0, arp_interval_ms=200))
                if d.bond else d for d in snap.devices)  # fmt: skip
    plan = drill_plan(replace(snap, devices=arp), None, None, DrillFault.PATH, 120)
    assert (plan.fault, plan.port) == (DrillFault.PATH, "eth0")


def test_the_drill_says_which_monitor_noticed_and_its_floor() -> None:
    from tightrope.core.drill import DrillFault, PortEvent

    link = replace(result(), events=(PortEvent(1000.115, "eth0 link down"),
                                     PortEvent(1000.116, "active eth0 -> wlan0")))  # fmt: skip
    det = link.detection()
    assert (det.by, round(det.after_ms or 0), det.floor_ms) == ("MII", 104, 100)
    assert "PHY" in det.floor
    # A dead path under MII: nothing happened as far as the bond knew.
    path = replace(result(), plan=replace(result().plan, fault=DrillFault.PATH))
    det = path.detection()
    assert (det.by, det.after_ms, det.floor) == ("MII", None,
                                                 "none: MII watches the link, which stayed up")
    # Under ARP: interval x missed.
    arp = replace(link, plan=replace(link.plan, fault=DrillFault.PATH),
                  miimon_ms=0, arp_interval_ms=200, arp_missed_max=2)  # fmt: skip
    det = arp.detection()
    assert (det.by, det.floor_ms, det.floor) == ("ARP", 400, "ARP interval 200 ms x 2 missed")
    doc = result_to_dict(arp)
    assert (doc["fault"], doc["detected_by"], doc["detected_after_ms"],
            doc["detection_floor_ms"]) == ("path", "ARP", 104.0, 400)  # fmt: skip
    assert result_from_dict(doc) == arp
