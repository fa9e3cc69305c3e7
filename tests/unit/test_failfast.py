"""A bad change is caught as soon as it is certain, and named in the admin's words.

Pure rules (Tripwire, the ARP parsers) on plain data, then the transaction against the
in-memory box with scripted NetworkManager signals (injected, never patched).
"""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tests.unit.test_plan import PSK
from tightrope.core.config import Sources, parse_config
from tightrope.core.failfast import (
    PORT_STALL_S,
    DeviceEvent,
    Rejoin,
    StallWatch,
    Tripwire,
    bond_ready_for_arp,
)
from tightrope.core.model import BondConfig
from tightrope.core.plan import make_plan
from tightrope.core.snapshot import BondRuntime, Device
from tightrope.txn import control, runner
from tightrope.txn.state import Store, TxnState

SSID_GONE = ("no access point 'TightropeLab' in range of wlan0 (not in its scan results); "
             "check the SSID")  # fmt: skip
PSK_REFUSED = "the access point 'TightropeLab' refused the PSK for wlan0; check the passphrase"
NO_SSID = ("no access point 'NoSuchNetwork' in range of wlan0 (not in its scan results); "
           "check the SSID")  # fmt: skip
GW_SILENT = "no ARP reply from 198.18.1.254 on bond0: wrong gateway or wrong subnet?"
IN_USE = ("198.18.1.10 is already in use on the LAN (another machine answered ARP for it); "
          "choose a free address")  # fmt: skip


def config(ssid: str = "TightropeLab", address: str = "198.18.1.64/24",
           gateway: str = "198.18.1.1", dhcp: bool = False) -> BondConfig:  # fmt: skip
    return config_with(ssid=ssid, address=address, gateway=gateway, dhcp=dhcp)


def config_with(ssid: str = "TightropeLab", address: str = "198.18.1.64/24",
                gateway: str = "198.18.1.1", dhcp: bool = False,
                **params: Any) -> BondConfig:  # fmt: skip
    ipv4: dict[str, Any] = {"dhcp": True} if dhcp else {"addresses": [address],
                                                        "gateway": gateway}  # fmt: skip
    return parse_config(
        {"ports": {"eth0": {"type": "ethernet"},
                   "wlan0": {"type": "wifi", "ssid": ssid, "psk-env": "P"}},
         "parameters": params, "ipv4": ipv4},
        Sources(env={"P": PSK}),
    )  # fmt: skip


# -- Tripwire ------------------------------------------------------------------------------


HANDSHAKE_CUT = [DeviceEvent("wlan0", "need-auth", "config", "supplicant-disconnect"),
                 DeviceEvent("wlan0", "failed", "need-auth", "no-secrets")]


def test_networkmanager_asking_for_a_new_psk_twice_is_a_refused_psk() -> None:
    trip = Tripwire(config())
    # Every activation passes through need-auth while NetworkManager fetches the stored PSK.
    for new, old in [("prepare", "disconnected"), ("config", "prepare"),
                     ("need-auth", "config"), ("prepare", "need-auth"), ("config", "prepare")]:
        assert trip.event(DeviceEvent("wlan0", new, old, "none")) is None
    # The 4-way handshake was cut short: NetworkManager asks for a new PSK, and with no
    # agent to give one the port fails. Once may be a lost frame: try again.
    assert trip.event(HANDSHAKE_CUT[0]) is None
    assert trip.event(HANDSHAKE_CUT[1]) == Rejoin(
        "wlan0", "wlan0 failed to join 'TightropeLab' (NetworkManager: no-secrets)",
        PSK_REFUSED)  # the verdict, where the window leaves no room for a second try
    trip.event(DeviceEvent("wlan0", "prepare", "disconnected", "none"))
    assert trip.event(HANDSHAKE_CUT[0]) is None
    assert trip.event(HANDSHAKE_CUT[1]) == PSK_REFUSED


def test_a_second_try_without_a_handshake_still_names_the_refused_psk() -> None:
    """NetworkManager may have dropped the refused PSK from the request: the second try
    fails at once with no-secrets, and the first refusal is the cause."""
    trip = Tripwire(config())
    for ev in HANDSHAKE_CUT:
        trip.event(ev)
    assert trip.event(DeviceEvent("wlan0", "need-auth", "config", "none")) is None
    assert trip.event(DeviceEvent("wlan0", "failed", "need-auth", "no-secrets")) == PSK_REFUSED


def test_an_association_that_timed_out_twice_is_named_as_such() -> None:
    """NetworkManager's 25 s supplicant timeout with the AP in sight: need-auth (none), then
    no-secrets, the same as a wrong PSK in its last state but without a cut handshake."""
    trip = Tripwire(config())
    timed_out = [DeviceEvent("wlan0", "need-auth", "config", "none"),
                 DeviceEvent("wlan0", "failed", "need-auth", "no-secrets")]  # fmt: skip
    assert trip.event(timed_out[0]) is None
    assert isinstance(trip.event(timed_out[1]), Rejoin)
    assert trip.event(timed_out[0]) is None
    assert trip.event(timed_out[1]) == (
        "wlan0 could not join 'TightropeLab' in 2 tries (NetworkManager: no-secrets); "
        "check the access point and the signal")


def test_only_the_polling_fallback_reads_a_refusal_from_a_snapshot() -> None:
    snap = netplan_start()
    wlan0 = replace(snap.device("wlan0"), state="disconnected", state_reason="no-secrets")
    snap = replace(snap, devices=tuple(wlan0 if d.interface == "wlan0" else d
                                       for d in snap.devices))  # fmt: skip
    assert Tripwire(config()).snapshot(snap) is None  # the signals count the attempts
    assert Tripwire(config(), signals=False).snapshot(snap) == PSK_REFUSED


def test_ssid_absent_from_two_scans_made_while_joining() -> None:
    cfg = config(ssid="NoSuchNetwork")
    snap = netplan_start()  # wlan0 sees only TightropeLab
    trip = Tripwire(cfg)
    # A scan before our activation began says nothing about it.
    assert trip.event(DeviceEvent("wlan0", scan_done=True)) is None
    assert trip.snapshot(snap) is None
    trip.event(DeviceEvent("wlan0", "config", "prepare", "none"))
    assert trip.snapshot(snap) is None  # the supplicant has not looked yet
    trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(snap) is None  # one scan may have been aborted, or missed the AP
    trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(snap) == NO_SSID
    # Fetching the PSK starts the activation over: the count too.
    trip.event(DeviceEvent("wlan0", "need-auth", "config", "none"))
    trip.event(DeviceEvent("wlan0", "prepare", "need-auth", "none"))
    assert trip.snapshot(snap) is None
    # NetworkManager's own verdict, 25 s later, says the same, on the second try: the
    # first may have timed out with the AP there (seen in the lab).
    trip = Tripwire(cfg)
    not_found = DeviceEvent("wlan0", "failed", "config", "ssid-not-found")
    assert isinstance(trip.event(not_found), Rejoin)
    assert trip.event(not_found) == NO_SSID


def test_an_empty_scan_list_is_no_proof_of_absence() -> None:
    """Seen in CI: the port's table flushed when its link went down to join the bond, a scan
    that ended without listening, and a good change rolled back."""
    snap = netplan_start()
    snap = replace(snap, access_points=())
    trip = Tripwire(config())
    trip.event(DeviceEvent("wlan0", "config", "prepare", "none"))
    for _ in range(5):
        trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(snap) is None


def test_near_a_hidden_ap_the_ssid_is_absent_only_after_a_third_scan() -> None:
    """The first scan to end may have begun before the supplicant probed for the SSID, with
    broadcast probes a hidden AP answers without its name."""
    snap = netplan_start()
    hidden = replace(snap.access_points[0], ssid="", bssid="02:00:00:00:09:00")
    snap = replace(snap, access_points=(*snap.access_points, hidden))
    trip = Tripwire(config(ssid="NoSuchNetwork"))
    trip.event(DeviceEvent("wlan0", "config", "prepare", "none"))
    trip.event(DeviceEvent("wlan0", scan_done=True))
    trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(snap) is None
    trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(snap) == NO_SSID


def test_a_present_ssid_after_scans_is_no_verdict() -> None:
    trip = Tripwire(config())
    trip.event(DeviceEvent("wlan0", "config", "prepare", "none"))
    for _ in range(3):
        trip.event(DeviceEvent("wlan0", scan_done=True))
    assert trip.snapshot(netplan_start()) is None


def test_bond_failing_on_its_static_address_is_the_address_in_use() -> None:
    failed = DeviceEvent("bond0", "failed", "ip-config", "ip-config-unavailable")
    assert Tripwire(config(address="198.18.1.10/24")).event(failed) == IN_USE
    # With DHCP the client declines a taken lease and asks again: no verdict.
    assert Tripwire(config(dhcp=True)).event(failed) is None
    # Other devices and other reasons are not this.
    assert Tripwire(config()).event(replace(failed, interface="eth0")) is None
    assert Tripwire(config()).event(replace(failed, reason="dependency-failed")) is None


def test_arp_through_the_bond_waits_for_its_address_and_an_active_port() -> None:
    cfg = config()
    snap = netplan_start()
    assert not bond_ready_for_arp(cfg, snap)  # no bond yet
    bond = Device("bond0", "bond", "ip-config", True, ip4_addresses=(),
                  bond=BondRuntime("active-backup", "up", 100, active_port="eth0", primary=None,
                                     ports=()))  # fmt: skip
    with_bond = replace(snap, devices=(*snap.devices, bond))
    assert not bond_ready_for_arp(cfg, with_bond)  # its address still being probed (DAD)
    ready = replace(bond, ip4_addresses=("198.18.1.64/24",))
    assert bond_ready_for_arp(cfg, replace(snap, devices=(*snap.devices, ready)))
    no_port = replace(ready, bond=replace(ready.bond, active_port=None))  # type: ignore[arg-type]
    assert not bond_ready_for_arp(cfg, replace(snap, devices=(*snap.devices, no_port)))
    # Under the ARP monitor a silent gateway leaves no port active: a port in the bond with
    # its link up is enough to probe (the probe then names the gateway); under MII it is not.
    eth0 = replace(snap.device("eth0"), controller="bond0", state="activated", carrier=True)
    rest = tuple(d for d in snap.devices if d.interface != "eth0")
    silent = replace(snap, devices=(*rest, eth0, no_port))
    arp = config_with(**{"arp-interval": 100})
    assert arp.arp is not None and bond_ready_for_arp(arp, silent)
    mii = config_with(**{"mii-monitor-interval": 100})
    assert mii.arp is None and not bond_ready_for_arp(mii, silent)
    unplugged = replace(snap, devices=(*rest, replace(eth0, carrier=False), no_port))
    assert not bond_ready_for_arp(arp, unplugged)


def test_a_silent_gateway_names_the_arp_targets_when_they_are_others() -> None:
    from tightrope.core.failfast import gateway_silent

    assert gateway_silent("198.18.1.1", "bond0", ["198.18.1.1"]) == (
        "no ARP reply from 198.18.1.1 on bond0: wrong gateway or wrong subnet?")
    assert "ARP targets (198.18.1.9) that do not answer" in gateway_silent(
        "198.18.1.1", "bond0", ["198.18.1.9"])


# -- the transaction -----------------------------------------------------------------------


def _run(tmp_path: Path, box: FakeBox, clock: FakeClock, cfg: BondConfig,
         verify_timeout_s: int = 60, all_ports: bool = True) -> TxnState:  # fmt: skip
    """all_ports: these tests are about a Wi-Fi port's verdict, which rolls the change back
    only when every port is verified (--verify-all-ports); test_verify_ports has the rest."""
    store = Store(tmp_path)
    plan = make_plan(cfg, box.snapshot(include_secrets=True))
    started = control.start(cfg, plan, store=store, clock=clock, boot_id="boot-1",
                            launch=lambda txn_id, secrets: None,
                            verify_timeout_s=verify_timeout_s,
                            verify_all_ports=all_ports)  # fmt: skip
    return runner.run(started.state.id, store=store, backend=box, system=box, clock=clock,
                      secrets={"wlan0": PSK}, out=io.StringIO())  # fmt: skip


def _verifying_took(box: FakeBox, clock: FakeClock, tmp_path: Path, cfg: BondConfig,
                    ) -> tuple[TxnState, float]:  # fmt: skip
    t0 = clock.mono()
    final = _run(tmp_path, box, clock, cfg)
    return final, clock.mono() - t0


def test_refused_psk_rolls_back_on_the_signal_though_the_poll_never_sees_it(
    tmp_path: Path,
) -> None:
    """NetworkManager falls back to the old Wi-Fi profile right after ours failed; only the
    signal tells why."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.wifi_instead = "fallback"
    box.on_activate["wlan0"] = [
        DeviceEvent("wlan0", "prepare", "disconnected", "none"),
        DeviceEvent("wlan0", "config", "prepare", "none"),
        DeviceEvent("wlan0", "need-auth", "config", "none"),  # fetching the stored PSK
        DeviceEvent("wlan0", "prepare", "need-auth", "none"),
        DeviceEvent("wlan0", "config", "prepare", "none"),
        DeviceEvent("wlan0", "need-auth", "config", "supplicant-disconnect"),
        DeviceEvent("wlan0", "failed", "need-auth", "no-secrets"),
    ]
    final, took = _verifying_took(box, clock, tmp_path, config())
    assert (final.outcome, final.reason) == ("rolled-back", PSK_REFUSED)
    assert took < 2
    assert "checkpoint_rollback" in box.calls and box.checkpoint is None
    assert all(s.closed for s in box.streams)


def test_a_handshake_cut_once_is_tried_again_and_commits(tmp_path: Path) -> None:
    """Seen in the lab on a good change: the first handshake of a new profile cut short
    (NetworkManager then asks for a new PSK, as for a wrong one). The second try joins."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.failed_tries["wlan0"] = [HANDSHAKE_CUT]
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: [store.raise_flag(i, "confirm") for i in store.all_ids()])
    final = _run(tmp_path, box, clock, config())
    assert final.outcome == "committed", final.reason
    assert box.calls.count("activate bond0-port-wlan0") == 2
    notes = [s.detail for s in final.steps if s.name == "note"]
    assert ("verification: wlan0 failed to join 'TightropeLab' (NetworkManager: no-secrets); "
            "asking NetworkManager once more") in notes  # fmt: skip


def test_an_association_timing_out_once_is_tried_again_and_commits(tmp_path: Path) -> None:
    """Seen in CI: 25 s into verification NetworkManager gave up on wlan0 with ssid-not-found
    although the AP was there; the change was rolled back as 'no access point in range'."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.failed_tries["wlan0"] = [[DeviceEvent("wlan0", "failed", "config", "ssid-not-found")]]
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: [store.raise_flag(i, "confirm") for i in store.all_ids()])
    final = _run(tmp_path, box, clock, config())
    assert final.outcome == "committed", final.reason


def test_a_failure_too_late_for_a_second_try_is_the_verdict(tmp_path: Path) -> None:
    """An access point switched off: NetworkManager gives up at its 25 s supplicant timeout;
    a second try would run past a 40 s window, so the first failure is the answer."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.wifi_instead = "config"
    not_found = [DeviceEvent("wlan0", "failed", "config", "ssid-not-found")]
    clock.on_sleep.append(lambda t: box.emit(*not_found) if clock.mono() - start >= 25 else None)
    start = clock.mono()
    final = _run(tmp_path, box, clock, config(), verify_timeout_s=40)
    assert (final.outcome, final.reason) == ("rolled-back", SSID_GONE)
    assert box.calls.count("activate bond0-port-wlan0") == 1


def test_a_good_psk_passing_through_need_auth_commits(tmp_path: Path) -> None:
    """Seen in the lab: NetworkManager's every Wi-Fi activation visits need-auth while it
    fetches the stored PSK; taken for a refusal, it rolled back every change."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.on_activate["wlan0"] = [DeviceEvent("wlan0", "need-auth", "config", "none"),
                                DeviceEvent("wlan0", "prepare", "need-auth", "none")]  # fmt: skip
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: [store.raise_flag(i, "confirm") for i in store.all_ids()])
    final = _run(tmp_path, box, clock, config())
    assert final.outcome == "committed", final.reason


def test_absent_ssid_rolls_back_after_the_supplicants_scans(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.wifi_instead = "config"
    box.on_activate["wlan0"] = [DeviceEvent("wlan0", "prepare", "disconnected", "none"),
                                DeviceEvent("wlan0", "config", "prepare", "none"),
                                DeviceEvent("wlan0", scan_done=True),
                                DeviceEvent("wlan0", scan_done=True)]  # fmt: skip
    final, took = _verifying_took(box, clock, tmp_path, config(ssid="NoSuchNetwork"))
    assert (final.outcome, final.reason) == ("rolled-back", NO_SSID)
    assert took < 2


def test_silent_gateway_rolls_back_after_two_arp_probes(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.gateway_answers = False
    box.gateway_answers_arp = False
    final, took = _verifying_took(box, clock, tmp_path, config(gateway="198.18.1.254"))
    assert (final.outcome, final.reason) == ("rolled-back", GW_SILENT)
    assert box.arp_probes == [("198.18.1.254", "bond0")] * 2
    # The second round follows the first at once, with no ping between: a ping after an
    # unanswered round only waits out its own ARP.
    assert box.pings == [] and took < 1


def test_one_unanswered_arp_probe_is_no_verdict(tmp_path: Path) -> None:
    # A starved box can miss a round of replies: that alone rolls nothing back.
    box, clock = FakeBox(netplan_start()), FakeClock()
    answers = iter([False, True])
    box.arp_answer = lambda: next(answers, True)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: [store.raise_flag(i, "confirm") for i in store.all_ids()])
    final = _run(tmp_path, box, clock, config())
    assert final.outcome == "committed", final.reason
    assert box.arp_probes[0] == ("198.18.1.1", "bond0")


def test_gateway_that_answers_arp_is_probed_once(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: [store.raise_flag(i, "confirm") for i in store.all_ids()])
    final = _run(tmp_path, box, clock, config())
    assert final.outcome == "committed", final.reason
    assert box.arp_probes == [("198.18.1.1", "bond0")]
    assert box.dad_probes == [("198.18.1.64", "bond0")]
    assert all(s.closed for s in box.streams)


def test_without_arp_a_silent_gateway_still_fails_at_the_window(tmp_path: Path) -> None:
    """No ARP answer either way (no packet socket): as before, the window decides."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.gateway_answers = False
    box.gateway_answers_arp = None
    final, took = _verifying_took(box, clock, tmp_path, config(gateway="198.18.1.254"))
    assert final.outcome == "rolled-back" and "did not answer a ping" in final.reason
    assert 60 <= took < 65


def test_address_in_use_rolls_back_when_the_bond_fails(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.on_activate["bond0"] = [
        DeviceEvent("bond0", "ip-config", "config", "none"),
        DeviceEvent("bond0", "failed", "ip-config", "ip-config-unavailable"),
    ]
    final, took = _verifying_took(box, clock, tmp_path, config(address="198.18.1.10/24"))
    assert (final.outcome, final.reason) == ("rolled-back", IN_USE)
    assert took < 2


def test_address_in_use_that_networkmanager_missed_rolls_back(tmp_path: Path) -> None:
    """Seen in the lab (2 journeys of 3): NetworkManager's own probe missed the machine
    that had the address, the bond came up with it, and only the confirmation's window
    ended the change. Our probe, once the bond carries frames, names it."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.taken = {"198.18.1.10"}
    final, took = _verifying_took(box, clock, tmp_path, config(address="198.18.1.10/24"))
    assert (final.outcome, final.reason) == ("rolled-back", IN_USE)
    assert box.dad_probes == [("198.18.1.10", "bond0")]
    assert took < 2


def test_rollback_request_is_honoured_between_snapshots(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.wifi_instead = "config"  # never verifies: only the request can end it early
    store = Store(tmp_path)

    def admin(t: float) -> None:
        for txn_id in store.all_ids():
            if store.load(txn_id).phase == "verifying":
                store.raise_flag(txn_id, "abort")

    clock.on_sleep.append(admin)
    final, took = _verifying_took(box, clock, tmp_path, config())
    assert final.outcome == "rolled-back" and "on request" in final.reason
    assert took < 1


def test_without_signals_verification_still_polls(tmp_path: Path) -> None:
    from tightrope.errors import BackendUnavailable

    box, clock = FakeBox(netplan_start()), FakeClock()

    def no_signals(interfaces: Any) -> Any:
        raise BackendUnavailable("no bus")

    box.device_events = no_signals  # type: ignore[method-assign]
    box.wifi_failure = "no-secrets"
    final = _run(tmp_path, box, clock, config())
    assert (final.outcome, final.reason) == ("rolled-back", PSK_REFUSED)
    store = Store(tmp_path)
    notes = [s.detail for s in store.load(store.all_ids()[-1]).steps if s.name == "note"]
    assert any("cannot follow NetworkManager's signals" in n for n in notes)


def test_a_wifi_port_not_joined_is_reported_not_waited_for_unless_all_ports_are() -> None:
    """Pure core.verify: the default lets the cable carry the bond while wlan0 joins; with
    --verify-all-ports (all_ports) wlan0 must have joined."""
    from tightrope.core.verify import verify

    snap = netplan_start()
    bond = replace(snap.device("eth0"), interface="bond0", type="bond", controller=None,
                   state="activated", ip4_addresses=("198.18.1.64/24",),
                   ip4_gateway="198.18.1.1")  # fmt: skip
    eth0 = replace(snap.device("eth0"), controller="bond0", state="activated")
    wlan0 = replace(snap.device("wlan0"), controller=None, state="config")
    snap = replace(snap, devices=(bond, eth0, wlan0))
    cfg = config(address="198.18.1.64/24")
    default = verify(cfg, snap, all_ports=False)
    assert [c.name for c in default.not_waited_for] == ["port wlan0"]
    assert default.ok, default.reason()
    assert any(c.name == "carrying port" and c.ok for c in default.checks)
    assert not verify(cfg, snap, all_ports=True).ok
    assert any(c.name == "port wlan0" for c in verify(cfg, snap, all_ports=True).failures)
    # No port joined at all: nothing carries the bond, whatever is waited for.
    eth0_out = replace(eth0, controller=None, state="unavailable")
    bare = replace(snap, devices=(bond, eth0_out, wlan0))
    carrying = [c for c in verify(cfg, bare, all_ports=False).failures if c.name == "carrying port"]
    assert carrying and carrying[0].detail == "no port has joined bond0 yet"


def test_a_port_not_waited_for_is_followed_until_the_confirmation(tmp_path: Path) -> None:
    """By default the cable's bond is verified while wlan0 still joins; its refusals, which
    come later, are still read while the change waits for its confirmation, and the commit
    names the cause."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.wifi_instead = "config"  # wlan0 keeps trying while eth0 carries the bond
    store = Store(tmp_path)
    refused = [DeviceEvent("wlan0", "need-auth", "config", "supplicant-disconnect"),
               DeviceEvent("wlan0", "failed", "need-auth", "no-secrets")]  # fmt: skip
    waited = {"n": 0}

    def later(now: float) -> None:
        for txn in store.all_ids():
            if store.load(txn).phase != "awaiting-confirm":
                continue
            waited["n"] += 1
            # The flag is looked for every 0.1 s, the ports every 0.5 s (five sleeps).
            if waited["n"] in (10, 30):  # each try refused, the second after our retry
                box.emit(*refused)
            if waited["n"] == 50:
                store.raise_flag(txn, "confirm")

    clock.on_sleep.append(later)
    final = _run(tmp_path, box, clock, config(), all_ports=False)
    assert final.outcome == "committed", final.reason
    assert final.reason.startswith(f"wlan0 is not in bond0: {PSK_REFUSED}"), final.reason
    assert box.calls.count("activate bond0-port-wlan0") == 2  # the first refusal: once more


# -- a port NetworkManager never attaches -------------------------------------------------


def test_a_port_waiting_in_ip_config_is_named_once_after_the_stall_time() -> None:
    snap = netplan_start()
    waiting = replace(snap, devices=tuple(
        replace(d, state="ip-config", controller="bond0") if d.interface == "wlan0" else d
        for d in snap.devices))  # fmt: skip
    watch = StallWatch("bond0", ("eth0", "wlan0"))
    assert watch.look(waiting, 100.0) == []
    assert watch.look(waiting, 100.0 + PORT_STALL_S - 1) == []
    assert watch.look(waiting, 100.0 + PORT_STALL_S) == ["wlan0"]
    assert watch.look(waiting, 200.0) == []  # named once
    # Time in ip-config counts from when it was seen there, afresh after it left.
    other = StallWatch("bond0", ("wlan0",))
    assert other.look(waiting, 0.0) == [] and other.look(snap, 10.0) == []
    assert other.look(waiting, 11.0) == [] and other.look(waiting, 11.0 + PORT_STALL_S) == ["wlan0"]
    # On its old profile, waiting for a DHCP lease: not a port waiting for the bond.
    dhcp = replace(snap, devices=tuple(
        replace(d, state="ip-config", controller=None) if d.interface == "wlan0" else d
        for d in snap.devices))  # fmt: skip
    alone = StallWatch("bond0", ("wlan0",))
    assert alone.look(dhcp, 0.0) == [] and alone.look(dhcp, 100.0) == []


def test_a_port_left_waiting_for_its_bond_is_activated_once_more_and_joins(
    tmp_path: Path,
) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.stuck_tries["wlan0"] = 1
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: [store.raise_flag(i, "confirm") for i in store.all_ids()])
    final = _run(tmp_path, box, clock, config())
    assert final.outcome == "committed", final.reason
    assert box.calls.count("activate bond0-port-wlan0") == 2
    assert any("wlan0 waited 15 s in ip-config for bond0 to take it in" in s.detail
               for s in final.steps)  # fmt: skip


def test_a_port_never_attached_fails_at_the_window_with_what_it_waited_for(
    tmp_path: Path,
) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.stuck_tries["wlan0"] = 9
    final, took = _verifying_took(box, clock, tmp_path, config())
    assert final.outcome == "rolled-back"
    assert "port wlan0: wlan0 is ip-config: waiting for NetworkManager to attach it to bond0" \
        in final.reason
    assert box.calls.count("activate bond0-port-wlan0") == 2  # asked again once, not more
    assert 60 <= took < 65
