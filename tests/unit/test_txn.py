from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.unit.builders import netplan_start
from tests.unit.fakebox import RUN, FakeBox, FakeClock
from tests.unit.test_plan import PSK, seed_config
from tightrope.core.failfast import DeviceEvent, address_in_use
from tightrope.core.plan import make_plan
from tightrope.core.profiles import profile_uuid
from tightrope.errors import Busy
from tightrope.txn import control, expiry, runner
from tightrope.txn.atomic import create_exclusive
from tightrope.txn.engine import Transaction
from tightrope.txn.state import Store
from tightrope.txn.steps import NM_MARGIN_S, RolledBack
from tightrope.txn.verify_step import Verify

OWN = "/etc/netplan/90-tightrope-bond0.yaml"


class Recorder:
    def __init__(self, name: str, calls: list[str], fail: bool = False) -> None:
        self.name, self.calls, self.fail = name, calls, fail

    def commit(self) -> None:
        self.calls.append(f"commit {self.name}")
        if self.fail:
            raise RuntimeError(f"{self.name} broke")

    def rollback(self) -> None:
        self.calls.append(f"rollback {self.name}")
        if self.name == "b":
            raise OSError("rollback of b failed")


def test_engine_rolls_back_in_reverse_and_reraises_the_original_error() -> None:
    calls: list[str] = []
    logged: list[tuple[str, str]] = []
    steps = [Recorder("a", calls), Recorder("b", calls), Recorder("c", calls, fail=True)]
    txn = Transaction(steps, lambda n, s, d: logged.append((n, s)))
    with pytest.raises(RuntimeError, match="c broke"):
        txn.run()
    assert calls == ["commit a", "commit b", "commit c", "rollback b", "rollback a"]
    assert ("b", "rollback-failed") in logged and ("a", "rolled-back") in logged


def _start(tmp_path: Path, box: FakeBox, clock: FakeClock, **kw: object) -> str:
    store = Store(tmp_path)
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    started = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                            launch=lambda txn_id, secrets: None, **kw)  # type: ignore[arg-type]
    return started.state.id


def _run(tmp_path: Path, box: FakeBox, clock: FakeClock, txn_id: str) -> runner.TxnState:
    return runner.run(txn_id, store=Store(tmp_path), backend=box, system=box, clock=clock,
                      secrets={"wlan0": PSK}, out=io.StringIO())


def test_confirmed_apply_commits_and_retires_netplan(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock, ssh_client="198.18.1.10")
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "committed", final.reason
    ids = {p.id: p for p in box.profiles.values()}
    assert set(ids) == {"bond0", "bond0-port-eth0", "bond0-port-wlan0"}
    # netplan renders them from tightrope's own file; NetworkManager never saved one.
    assert all(p.filename == f"{RUN}/netplan-{p.id}.nmconnection" for p in ids.values())
    assert not [c for c in box.calls if c.endswith(" disk")]
    own = box.files[OWN].decode()
    assert PSK in own and profile_uuid("bond0") in own
    # New profiles went in memory first; netplan judged the files before the point of no
    # return; our file was written before the stanzas left 50-lab.yaml; nothing was deleted.
    assert "add bond0 memory" in box.calls
    check = next(i for i, c in enumerate(box.calls) if c.startswith("netplan_check"))
    assert check < box.calls.index("checkpoint_destroy") < box.calls.index(f"write {OWN}")
    assert box.calls.index(f"write {OWN}") < box.calls.index("write /etc/netplan/50-lab.yaml")
    assert box.calls.index("write /etc/netplan/50-lab.yaml") < box.calls.index("reload")
    assert not [c for c in box.calls if c.startswith("delete")]
    netplan = box.files["/etc/netplan/50-lab.yaml"].decode()
    assert "eth0" not in netplan and "wlan0" not in netplan and box.generated == 1
    assert store.pending_id() is None
    backups = {p.name for p in (tmp_path / "txn" / txn_id / "backup").iterdir()}
    assert {"u-eth0.json", "u-wlan0.json", "manifest.json"} <= backups
    manifest = json.loads((tmp_path / "txn" / txn_id / "backup" / "manifest.json").read_text())
    assert manifest["netplan_created"] == [OWN] and manifest["commit_as"] == "netplan"
    assert oct((tmp_path / "txn" / txn_id).stat().st_mode & 0o777) == "0o700"


def test_new_profiles_wait_for_activate(tmp_path: Path) -> None:
    """Added with autoconnect blocked: NetworkManager must not start the bond while its ports
    are still being added (measured: it did, and Activate restarted it all)."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "committed", final.reason
    plan = make_plan(seed_config(), FakeBox(netplan_start()).snapshot(include_secrets=True))
    assert sorted(box.ever_blocked) == sorted(p.uuid for p in plan.desired)
    assert box.blocked == set()  # each was activated by hand


def test_yaml_netplan_refuses_rolls_back_before_anything_is_written(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.netplan_complaint = "/etc/netplan/90-tightrope-bond0.yaml:3:5: Error in network definition"
    before = dict(box.profiles)
    files_before = dict(box.files)
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back"
    assert final.reason.startswith("netplan refused the bond's YAML") and "3:5" in final.reason
    assert box.profiles == before and box.files == files_before


def test_netplan_judges_the_files_while_the_change_waits(tmp_path: Path) -> None:
    """Asked during the wait for the confirmation, not after it; asked again at the commit
    only when a file it judged was edited meanwhile."""
    for edited in (False, True):
        box, clock = FakeBox(netplan_start()), FakeClock()
        txn_id = _start(tmp_path / str(edited), box, clock)
        store = Store(tmp_path / str(edited))

        def confirm(now: float, box: FakeBox = box, store: Store = store,
                    txn_id: str = txn_id, edited: bool = edited) -> None:  # fmt: skip
            if not any(c.startswith("netplan_check") for c in box.calls):
                return  # not judged yet
            if edited:
                path = "/etc/netplan/50-lab.yaml"
                box.files[path] = b"# the admin was here\n" + box.files[path]
            store.raise_flag(txn_id, "confirm")

        clock.on_sleep.append(confirm)
        final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                           secrets={"wlan0": PSK}, out=io.StringIO())  # fmt: skip
        assert final.outcome == "committed", final.reason
        checks = [c for c in box.calls if c.startswith("netplan_check")]
        assert len(checks) == (2 if edited else 1)
        assert b"the admin was here" in box.files["/etc/netplan/50-lab.yaml"] or not edited


def test_a_forked_runner_takes_the_box_as_its_starter_read_it(tmp_path: Path) -> None:
    """The agent read the box (with secrets) to check the plan a moment before forking the
    runner: the runner starts from that read, and backs up what it showed."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    before = box.snapshot(include_secrets=True)
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    real = box.snapshot
    after_checkpoint: list[bool] = []  # per read of the box: was the checkpoint made yet?

    def counted(*, include_secrets: bool = False) -> Any:
        after_checkpoint.append("checkpoint_create" in box.calls)
        return real(include_secrets=include_secrets)

    box.snapshot = counted  # type: ignore[method-assign]
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                       secrets={"wlan0": PSK}, out=io.StringIO(), before=before)  # fmt: skip
    assert final.outcome == "committed", final.reason
    backups = {p.name for p in (tmp_path / "txn" / txn_id / "backup").iterdir()}
    assert {"u-eth0.json", "u-wlan0.json"} <= backups
    assert after_checkpoint and after_checkpoint[0]  # no read of its own before the change


def test_keyfile_box_without_netplan_keeps_networkmanagers_keyfiles(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start(netplan_files={})), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "committed", final.reason
    ids = {p.id: p for p in box.profiles.values()}
    assert all(ids[i].storage == "etc" for i in ("bond0", "bond0-port-eth0", "bond0-port-wlan0"))
    assert OWN not in box.files and not [c for c in box.calls if c.startswith("netplan_check")]


def test_psk_never_in_state_files_other_than_backups(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    _run(tmp_path, box, clock, txn_id)
    d = tmp_path / "txn" / txn_id
    for f in d.iterdir():
        if f.is_file():
            assert PSK not in f.read_text(), f.name


def test_wrong_psk_rolls_back_at_once_with_the_reason(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.wifi_failure = "no-secrets"
    before = dict(box.profiles)
    txn_id = _start(tmp_path, box, clock, verify_all_ports=True)
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back"
    assert "passphrase" in final.reason
    assert "checkpoint_rollback" in box.calls
    assert box.profiles == before and box.checkpoint is None


def test_by_default_a_wifi_port_that_cannot_join_is_reported_not_waited_for(
    tmp_path: Path,
) -> None:
    """The cable carries the bond: the change is confirmed without waiting for wlan0, and the
    record says what is wrong with it (issue 18: Wi-Fi's join must not hold the commit)."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.wifi_failure = "no-secrets"
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "committed", final.reason
    assert "wlan0 is not in bond0" in final.reason and "passphrase" in final.reason
    assert "the bond runs without it" in final.reason
    notes = [s.detail for s in final.steps if s.name == "note"]
    assert any(n.startswith("not waiting for wlan0") for n in notes), notes


def test_unconfirmed_apply_rolls_back_at_the_deadline(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    before = dict(box.profiles)
    txn_id = _start(tmp_path, box, clock, confirm_timeout_s=30)
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back" and "not confirmed within 30 s" in final.reason
    assert box.profiles == before


def test_a_port_refused_while_the_new_bond_is_not_ready_is_asked_again(
    tmp_path: Path,
) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.bond_not_ready = 3
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "committed", final.reason
    assert box.bond_not_ready == 0


def test_verification_looks_again_as_soon_as_networkmanager_signals(tmp_path: Path) -> None:
    """The first look finds the gateway silent; the bond's signal a tick later brings the next
    look at once, not at the end of the second (on a small box, every look is felt in the
    journey's time to "committed")."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.gateway_answers = False
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)

    def bond_configured(t: float) -> None:
        store.raise_flag(txn_id, "confirm")
        if not box.gateway_answers:
            box.gateway_answers = True
            box.emit(DeviceEvent("bond0", new="activated", old="ip-config", reason="none"))

    clock.on_sleep.append(bond_configured)
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "committed", final.reason
    verify = {s.status: s.at for s in final.steps if s.name == "verify"}
    assert verify["done"] - verify["started"] == Verify.TICK_S


def test_a_bond_that_never_takes_its_ports_rolls_back_with_networkmanagers_words(
    tmp_path: Path,
) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.bond_not_ready = 10**6
    before = dict(box.profiles)
    txn_id = _start(tmp_path, box, clock)
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back"
    assert final.reason.startswith("verification failed: ")
    assert "refused eth0: NetworkManager.ActivateConnection failed: Controller" in final.reason
    assert box.profiles == before


def test_a_port_refused_because_the_bond_failed_is_reported_as_the_bonds_failure(
    tmp_path: Path,
) -> None:
    # The lab's race: the bond's address probe found a conflict before the ports were asked
    # for; the bond's own signal names the reason, not NetworkManager's refusal.
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.bond_not_ready = 10**6
    box.on_activate["bond0"] = [DeviceEvent("bond0", new="failed", old="ip-config",
                                            reason="ip-config-unavailable")]
    txn_id = _start(tmp_path, box, clock)
    final = _run(tmp_path, box, clock, txn_id)
    assert (final.outcome, final.reason) == ("rolled-back", address_in_use(["198.18.1.64"]))


@pytest.mark.parametrize("jump", [3600.0, -3600.0])
def test_the_confirm_window_ignores_the_wall_clock(tmp_path: Path, jump: float) -> None:
    """NTP on a box without an RTC moves the wall clock by hours just as the new network
    comes up; the window must stay what the user asked for, measured on the boot clock."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock, confirm_timeout_s=30)
    store = Store(tmp_path)
    seen: dict[str, float] = {}

    def ntp(t: float) -> None:
        state = store.load(txn_id)
        if state.phase == "awaiting-confirm" and "at" not in seen:
            seen["at"] = clock.mono()
            clock.jump(jump)

    clock.on_sleep.append(ntp)
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back" and "not confirmed within 30 s" in final.reason
    assert 29.0 <= clock.mono() - seen["at"] <= 31.0  # the jump came 0.5 s into the window


def test_rollback_request_and_vanished_checkpoint(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "abort"))
    assert _run(tmp_path, box, clock, txn_id).outcome == "rolled-back"

    box2, clock2 = FakeBox(netplan_start()), FakeClock()
    before = dict(box2.profiles)
    txn2 = _start(tmp_path / "2", box2, clock2)

    def restart_nm(t: float) -> None:
        if box2.checkpoint and "activate bond0" in box2.calls:
            box2.checkpoint = None  # a NetworkManager restart drops checkpoints silently

    clock2.on_sleep.append(restart_nm)
    final = runner.run(txn2, store=Store(tmp_path / "2"), backend=box2, system=box2,
                       clock=clock2, secrets={"wlan0": PSK}, out=io.StringIO())
    assert final.outcome == "rolled-back" and "vanished" in final.reason
    assert set(box2.profiles) == set(before)  # our in-memory profiles deleted by hand


def test_second_apply_while_pending_is_refused(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    _start(tmp_path, box, clock)
    with pytest.raises(Busy, match="still pending"):
        _start(tmp_path, box, clock)


def test_stale_pending_after_reboot_is_reported_and_freed(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    state = expiry.expire_stale(store, clock, boot_id="boot-2")
    assert state is not None and state.id == txn_id and "rebooted" in state.reason
    assert store.pending_id() is None


def test_a_change_cut_while_committing_says_what_is_known(tmp_path: Path) -> None:
    """Confirmed and being written when the box went down: not 'before confirmation'."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    store.update(store.load(txn_id), phase="committing", runner_pid=2**22 + 1)  # no such pid
    rebooted = expiry.stale_reason(store.load(txn_id), "boot-2")
    assert rebooted is not None and "while committing" in rebooted
    assert "may have booted either" in rebooted and "before confirmation" not in rebooted
    died = expiry.stale_reason(store.load(txn_id), "boot-1")
    assert died is not None and "runner died while committing" in died


def test_box_changed_since_plan_changes_nothing(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    del box.profiles["u-wlan0"]
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back" and "changed between the plan" in final.reason
    assert "checkpoint_create" not in box.calls


def test_inputs_hold_no_secret(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    text = (tmp_path / "txn" / txn_id / "inputs.json").read_text()
    assert PSK not in text
    assert json.loads(text)["config"]["ports"]["wlan0"]["psk-env"] == "P"


def test_undo_brings_back_the_exact_profiles_and_netplan_file(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    original = dict(box.profiles)
    original_yaml = box.files["/etc/netplan/50-lab.yaml"]
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    confirm = lambda t: store.raise_flag(store.pending_id() or txn_id, "confirm")  # noqa: E731
    clock.on_sleep.append(confirm)
    assert _run(tmp_path, box, clock, txn_id).outcome == "committed"
    undo = control.start_undo(store, clock=clock, boot_id="boot-1",
                              launch=lambda t, s: None).state
    assert undo.reconnect_at == "198.18.1.50"
    final = runner.run(undo.id, store=store, backend=box, system=box, clock=clock, secrets={},
                       out=io.StringIO())
    assert final.outcome == "committed", final.reason
    assert set(box.profiles) == set(original)
    for uuid, p in original.items():
        assert box.profiles[uuid].settings == p.settings
    assert box.files["/etc/netplan/50-lab.yaml"] == original_yaml
    assert OWN not in box.files
    assert control.last_undoable(store) is None


def test_absent_ssid_is_named_in_the_reason(tmp_path: Path) -> None:
    from dataclasses import replace as _replace

    start = netplan_start()
    start = _replace(start, access_points=(_replace(start.access_points[0], ssid="Other"),))
    box, clock = FakeBox(start), FakeClock()
    box.wifi_failure = "supplicant-timeout"
    txn_id = _start(tmp_path, box, clock, verify_all_ports=True)
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back" and "not in wlan0's scan results" in final.reason


def test_refused_psk_seen_once_is_reported_after_fallback(tmp_path: Path) -> None:
    """Without NetworkManager's signals (verification polls): NetworkManager falls back to the
    old profile right after our port failed; the reason (no-secrets) was visible in one poll
    only. (With signals, the failed attempt is counted from them: core.failfast.)"""
    from dataclasses import replace as _replace

    from tightrope.errors import BackendUnavailable

    box, clock = FakeBox(netplan_start()), FakeClock()

    def no_signals(interfaces: object) -> object:
        raise BackendUnavailable("no bus")

    box.device_events = no_signals  # type: ignore[method-assign, assignment]
    box.wifi_failure = "no-secrets"
    txn_id = _start(tmp_path, box, clock, verify_all_ports=True)
    polls = {"n": 0}
    real = box.snapshot

    def snapshot(*, include_secrets: bool = False) -> object:
        snap = real(include_secrets=include_secrets)
        polls["n"] += 1
        if polls["n"] > 3:  # after the first verify poll: back on the old profile
            box.devices["wlan0"] = _replace(box.devices["wlan0"], state="activated",
                                            state_reason="none", active_profile="u-wlan0")
        return snap

    box.snapshot = snapshot  # type: ignore[method-assign]
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back"
    assert "passphrase" in final.reason, final.reason


def test_rollback_is_honoured_during_verification(tmp_path: Path) -> None:
    """A silent gateway keeps verification waiting for its whole window; the admin who asks
    for a rollback meanwhile gets it now, not when the window ends."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    box.gateway_answers = False
    txn_id = _start(tmp_path, box, clock, verify_timeout_s=600)
    store = Store(tmp_path)

    def admin(t: float) -> None:
        if store.load(txn_id).phase == "verifying" and not store.flag(txn_id, "abort"):
            store.raise_flag(txn_id, "abort")

    clock.on_sleep.append(admin)
    t0 = clock.mono()
    final = _run(tmp_path, box, clock, txn_id)
    assert final.outcome == "rolled-back" and "on request" in final.reason
    assert clock.mono() - t0 < 10


def test_networkmanagers_guard_never_reaches_past_the_cap(tmp_path: Path) -> None:
    """Before the confirm window starts, the re-armed guard is bounded by the change's cap
    (verify + confirm + activation allowance), so even a runner hung in activation cannot
    keep the box on an unconfirmed network."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    ctx, steps, _finish = runner.prepare_apply(
        runner.Recorder(store, txn_id, clock, io.StringIO()), store.inputs(txn_id), box, box,
        {"wlan0": PSK})  # fmt: skip
    steps[0].commit(), steps[1].commit()  # backup, checkpoint
    assert ctx.rearm is not None and ctx.last_moment is not None
    ctx.rearm.stop()
    assert ctx.rearm.timeout_now() == ctx.rearm.guard_s
    clock.boot = ctx.last_moment - 5  # hung for almost the whole cap
    assert ctx.rearm.timeout_now() == 5 + NM_MARGIN_S
    clock.boot = ctx.last_moment + 60
    assert ctx.rearm.timeout_now() == 1
    with pytest.raises(RolledBack, match="may stay unconfirmed"):
        ctx.stop_if_asked()


class Killed(BaseException):
    """SIGKILL, as far as the runner can tell: nothing after it runs."""


DEAD_PID = 2**22 + 1  # above Linux's largest pid_max: never a live process


@pytest.mark.parametrize("death", ["runner", "reboot"])
def test_runner_dying_after_the_checkpoint_is_gone_is_a_committed_change(
    tmp_path: Path, death: str
) -> None:
    """Past the point of no return there is nothing for NetworkManager to roll back to: the
    bond is the network. Recording it as aborted would hide it from `undo`."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    original = dict(box.profiles)
    original_yaml = box.files["/etc/netplan/50-lab.yaml"]
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(store.pending_id() or txn_id, "confirm"))

    def kill() -> bool:
        raise Killed

    box.netplan_generate = kill  # type: ignore[method-assign]
    with pytest.raises(Killed):
        _run(tmp_path, box, clock, txn_id)
    # A killed process runs no `finally`: the lock would still be held.
    create_exclusive(tmp_path / "pending", txn_id)
    store.with_runner(txn_id, DEAD_PID)
    assert box.checkpoint is None and store.load(txn_id).phase == "finishing"

    state = expiry.expire_stale(store, clock, "boot-2" if death == "reboot" else "boot-1")
    assert state is not None and state.outcome == "committed" and state.phase == "committed"
    assert ("rebooted" if death == "reboot" else "runner died") in state.reason
    # What was done before the kill is not in the list: each chore is struck off as done.
    assert ("left undone: run netplan generate and reload NetworkManager's profiles; retire "
            "netplan-eth0; retire netplan-wlan0-TightropeLab.") in state.reason  # fmt: skip
    assert "Apply the same configuration again to finish it" in state.reason
    assert store.pending_id() is None

    assert control.last_undoable(store) == txn_id
    del box.netplan_generate  # a new runner, on a box that is fine again
    undo = control.start_undo(store, clock=clock, boot_id="boot-1", launch=lambda t, s: None)
    final = runner.run(undo.state.id, store=store, backend=box, system=box, clock=clock,
                       secrets={}, out=io.StringIO())  # fmt: skip
    assert final.outcome == "committed", final.reason
    assert set(box.profiles) == set(original)
    assert box.files["/etc/netplan/50-lab.yaml"] == original_yaml


def test_a_live_runner_finishing_is_left_alone(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    store.update(store.load(txn_id), phase="finishing", unfinished="retire x")
    store.with_runner(txn_id, os.getpid())
    assert expiry.expire_stale(store, clock, "boot-1") is None
    assert store.pending_id() == txn_id


def test_the_runner_prunes_old_transactions_when_one_ends(tmp_path: Path) -> None:
    store = Store(tmp_path)
    for n in range(12):
        old = runner.TxnState(id=f"19700101-0000{n:02d}-0000", kind="apply", phase="prepared",
                              created=float(n), boot_id="boot-1")  # fmt: skip
        store.create(old, {"kind": "apply"})
        store.update(old, phase="failed", outcome="failed")
        store.release(old.id)
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    final = _run(tmp_path, box, clock, txn_id)
    ids = store.all_ids()
    assert len(ids) == 10 and ids[-1] == txn_id and ids[0] == "19700101-000003-0000"
    assert any("removed the folders of 3 old transaction(s)" in s.detail for s in final.steps)


def test_yaml_without_the_psk_is_never_written(tmp_path: Path) -> None:
    box, clock = FakeBox(netplan_start()), FakeClock()
    files_before = dict(box.files)
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock, secrets={},
                       out=io.StringIO())  # fmt: skip
    assert final.outcome == "rolled-back"
    assert "the PSK for wlan0 is not known here" in final.reason
    assert box.files == files_before


@pytest.mark.parametrize("death", ["runner", "reboot"])
def test_cut_before_the_bonds_yaml_is_written(tmp_path: Path, death: str) -> None:
    """Committed as netplan YAML, the bond lives in memory until tightrope's own file is
    written: a reboot before that boots the old configuration, and the record says so."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    txn_id = _start(tmp_path, box, clock)
    store = Store(tmp_path)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    write = box.write_bytes

    def write_or_die(path: str, data: bytes, mode: int = 0o600) -> None:
        if path == OWN:
            raise Killed
        write(path, data, mode)

    box.write_bytes = write_or_die  # type: ignore[method-assign]
    with pytest.raises(Killed):
        _run(tmp_path, box, clock, txn_id)
    create_exclusive(tmp_path / "pending", txn_id)
    store.with_runner(txn_id, DEAD_PID)
    state = expiry.expire_stale(store, clock, "boot-2" if death == "reboot" else "boot-1")
    assert state is not None
    if death == "reboot":
        assert state.outcome == "aborted"
        assert "booted the configuration it had before" in state.reason
        assert control.last_undoable(store) is None
    else:  # the bond still runs, in memory: committed, and applying again finishes it
        assert state.outcome == "committed"
        assert f"left undone: write {OWN}; remove" in state.reason


def test_networkmanager_restarted_while_activating_gets_the_old_profiles_back(
    tmp_path: Path,
) -> None:
    """Fault bench bug 7: NetworkManager restarted mid-activation (the checkpoint dies with
    it) and the failing activate step was never rolled back; the restarted NetworkManager kept
    eth0 in the half-built bond. The step now undoes itself first, waiting for NetworkManager."""
    from tightrope.errors import BackendUnavailable

    box, clock = FakeBox(netplan_start()), FakeClock()
    real_activate = box.activate
    away = {"calls": 0}

    def activate(uuid: str, device: str | None = None) -> None:
        if box.profiles[uuid].id == "bond0-port-wlan0" and away["calls"] == 0:
            away["calls"] += 1
            box.checkpoint = None  # NetworkManager's restart takes its checkpoints
            raise BackendUnavailable("NetworkManager is not running on the system bus")
        real_activate(uuid, device)

    box.activate = activate  # type: ignore[method-assign]
    final = _run(tmp_path, box, clock, _start(tmp_path, box, clock))
    assert final.outcome == "rolled-back" and "not running" in final.reason
    undone = box.calls[box.calls.index("activate bond0-port-eth0") + 1:][:2]
    assert undone == ["activate netplan-eth0", "activate netplan-wlan0-TightropeLab"]
    steps = [(s.name, s.status) for s in final.steps if s.name == "activate"]
    assert steps[-2:] == [("activate", "failed"), ("activate", "rolled-back")]
    assert box.devices["eth0"].active_profile == box.start.device("eth0").active_profile
    assert "bond0" not in box.devices and "delete device bond0" in box.calls


def test_a_bond_networkmanager_took_over_while_restarting_is_removed(tmp_path: Path) -> None:
    """Fault bench bug 7, once in 7 runs: the restarted NetworkManager made a profile of its
    own (a new uuid) for the half-built bond and kept it up; with the checkpoint gone, the
    rollback removes that profile and the bond, which did not exist before the change."""
    from dataclasses import replace

    from tightrope.core.snapshot import Profile
    from tightrope.errors import BackendUnavailable

    box, clock = FakeBox(netplan_start()), FakeClock()
    real_activate = box.activate
    generated = Profile("9e3d2c1a-0000-4000-8000-000000000001", "bond0", "bond", "bond0",
                        "/run/NetworkManager/system-connections/bond0.nmconnection", 1, {})

    def activate(uuid: str, device: str | None = None) -> None:
        if box.profiles[uuid].id == "bond0-port-wlan0" and generated.uuid not in box.profiles:
            box.checkpoint = None
            box.profiles[generated.uuid] = generated
            box.devices["bond0"] = replace(box.devices["bond0"], active_profile=generated.uuid)
            raise BackendUnavailable("NetworkManager is not running on the system bus")
        real_activate(uuid, device)

    box.activate = activate  # type: ignore[method-assign]
    final = _run(tmp_path, box, clock, _start(tmp_path, box, clock))
    assert final.outcome == "rolled-back", (final.reason, box.calls)
    assert generated.uuid not in box.profiles and "bond0" not in box.devices
    assert {p.uuid for p in box.profiles.values()} == {p.uuid for p in box.start.profiles}
    assert box.calls.index("delete bond0") < box.calls.index("delete device bond0")


def test_a_step_that_fails_half_way_is_undone_first_if_it_says_so() -> None:
    log: list[str] = []

    class Step:
        def __init__(self, name: str, fail: bool = False, undo: bool = False) -> None:
            self.name, self.fail, self.undo_if_failed = name, fail, undo

        def commit(self) -> None:
            if self.fail:
                raise RuntimeError("half-way")

        def rollback(self) -> None:
            log.append(self.name)

    for undo, expected in ((True, ["b", "a"]), (False, ["a"])):
        log.clear()
        with pytest.raises(RuntimeError):
            Transaction([Step("a"), Step("b", fail=True, undo=undo)], lambda *a: None).run()
        assert log == expected
