"""Every type that can hold a secret shows none: not in repr(), str(), to_dict() or JSON."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tightrope import proto
from tightrope.core.config import Sources, parse_config
from tightrope.core.model import BondConfig
from tightrope.core.plan import make_plan
from tightrope.core.profiles import desired_profiles
from tightrope.core.snapshot import Snapshot
from tightrope.nm.to_dbus import settings_to_dbus
from tightrope.remote.ssh import Ssh
from tightrope.remote.target import Target
from tightrope.txn import control, runner
from tightrope.txn.state import Store

PSK = "known-secret-psk-42"
SUDO = "known-sudo-password-42"
NETPLAN = ('network:\n  wifis:\n    wlan0:\n      access-points:\n        "Lab":\n'
           f"          password: |\n            {PSK}\n")  # fmt: skip


def shown(obj: Any) -> str:
    return repr(obj) + str(obj)


def config() -> BondConfig:
    data = {"ports": {"eth0": {"type": "ethernet"},
                      "wlan0": {"type": "wifi", "ssid": "TightropeLab", "psk-env": "P"}},
            "ipv4": {"addresses": ["198.18.1.64/24"], "gateway": "198.18.1.1"}}  # fmt: skip
    return parse_config(data, Sources(env={"P": PSK}))


def with_secrets() -> Snapshot:
    """The seed box as the runner reads it, as root: the old Wi-Fi profile's PSK and the
    netplan file's password included."""
    start = netplan_start()
    wifi = start.profile("u-wlan0")
    assert wifi is not None
    security = {"key-mgmt": "wpa-psk", "psk": PSK, "psk-flags": 0}
    secret = replace(wifi, settings={**wifi.settings, "802-11-wireless-security": security})
    profiles = tuple(secret if p.uuid == "u-wlan0" else p for p in start.profiles)
    return replace(start, profiles=profiles,
                   netplan_files={"/etc/netplan/50-lab.yaml": NETPLAN})  # fmt: skip


def test_profiles_and_snapshots_read_with_secrets() -> None:
    snap = with_secrets()
    profile = snap.profile("u-wlan0")
    assert profile is not None and profile.get("802-11-wireless-security", "psk") == PSK
    assert PSK not in shown(profile) and "psk-flags" in repr(profile)
    assert PSK not in shown(snap)
    assert PSK not in json.dumps(snap.to_dict())
    # A root-only capture asks for them on purpose.
    assert PSK in json.dumps(snap.to_dict(with_secrets=True))


def test_desired_profiles_configs_and_plans() -> None:
    cfg = config()
    desired = desired_profiles(cfg)
    assert any(PSK in json.dumps(d.settings) for d in desired)  # what NetworkManager gets
    for d in desired:
        assert PSK not in shown(d)
    plan = make_plan(cfg, with_secrets())
    assert PSK not in shown(plan) + json.dumps(plan.to_dict())
    assert PSK not in shown(cfg) and PSK not in shown(Sources(env={"P": PSK}))


def test_the_transactions_context(tmp_path: Path) -> None:
    box, clock = FakeBox(with_secrets()), FakeClock()
    store = Store(tmp_path)
    cfg = config()
    started = control.start(cfg, make_plan(cfg, box.snapshot(include_secrets=True)),
                            store=store, clock=clock, boot_id="boot-1",
                            launch=lambda txn_id, secrets: None)  # fmt: skip
    rec = runner.Recorder(store, started.state.id, clock, io.StringIO())
    ctx, _steps, _finish = runner.prepare_apply(rec, store.inputs(started.state.id), box, box,
                                                {"wlan0": PSK})  # fmt: skip
    assert ctx.config.ports[1].psk is not None and ctx.config.ports[1].psk.reveal() == PSK
    assert PSK not in shown(ctx) and PSK not in shown(rec.state)


def test_ssh_with_a_sudo_password() -> None:
    ssh = Ssh(Target("pi.example", "pi"), password=lambda: SUDO, control_dir=Path("/nonexistent"),
              known_name="pi.example")
    ssh._sudo_for("password")
    assert ssh._as_root("true")[1] == f"{SUDO}\n".encode()  # what sudo -S reads on stdin
    assert SUDO not in shown(ssh) and SUDO not in shown(ssh.at("198.18.1.64"))
    assert SUDO not in " ".join(ssh.argv(ssh._as_root("true")[0]))


def test_protocol_requests_carry_the_psk_but_never_show_it() -> None:
    for msg in (proto.PlanRequest(config={"bond": "bond0"}, psk={"wlan0": PSK}),
                proto.StartRequest(config={}, psk={"wlan0": PSK}, fingerprint="f" * 24)):
        assert PSK not in shown(msg)
        assert PSK in proto.encode(msg).decode()  # the channel's stdin: the only place


def test_a_secret_that_cannot_be_sent_to_networkmanager_is_not_quoted() -> None:
    with pytest.raises(ValueError, match=r"802-11-wireless-security\.psk") as caught:
        settings_to_dbus({"802-11-wireless-security": {"psk": [PSK]}})
    assert PSK not in str(caught.value) and caught.value.__suppress_context__
    with pytest.raises(ValueError, match="cannot send 'zz'"):
        settings_to_dbus({"802-3-ethernet": {"mac-address": "zz"}})  # others still quoted
