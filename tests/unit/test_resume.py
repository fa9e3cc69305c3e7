"""A change committed with its chores left undone finishes by itself (fault bench bug 5): the
next root `status` (or `log`, `apply`, ...) that finds the runner gone runs the chores left,
rebuilt from the transaction's inputs and the snapshot it was planned from, and records what
it did. The box is the in-memory FakeBox, the store a temporary directory."""

from __future__ import annotations

import fcntl
import io
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tests.unit.test_plan import PSK, seed_config
from tightrope.box import app, glance
from tightrope.box.env import BoxEnv
from tightrope.core.plan import make_plan
from tightrope.core.snapshot import Snapshot
from tightrope.txn import control, expiry, runner
from tightrope.txn.atomic import create_exclusive
from tightrope.txn.backend import Backend, System
from tightrope.txn.resume import LOCK_NAME
from tightrope.txn.state import Store

OWN = "/etc/netplan/90-tightrope-bond0.yaml"
LAB = "/etc/netplan/50-lab.yaml"
DEAD_PID = 2**22 + 1  # above Linux's largest pid_max: never a live process
GENERATE = "run netplan generate and reload NetworkManager's profiles"


class Killed(BaseException):
    """SIGKILL, as far as the runner can tell: nothing after it runs."""


def _env(store: Store, clock: FakeClock, box: FakeBox, boot: str = "boot-1",
         made: list[str] | None = None) -> BoxEnv:  # fmt: skip
    def machinery() -> tuple[Backend, System]:
        if made is not None:
            made.append("machinery")
        return box, box

    return BoxEnv(store=store, clock=clock, boot_id=lambda: boot,
                  read_snapshot=lambda s: box.snapshot(include_secrets=s),
                  launch=lambda t, s: None, require_root=lambda: None,
                  is_root=lambda: True, machinery=machinery)  # fmt: skip


def _killed(tmp_path: Path, box: FakeBox, arm: Callable[[], None]) -> tuple[Store, FakeClock,
                                                                            str]:  # fmt: skip
    """A confirmed change whose runner is killed where `arm` makes the box raise Killed;
    returns with the lock held and the runner dead, as SIGKILL leaves them."""
    store, clock = Store(tmp_path), FakeClock()
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    txn_id = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                           launch=lambda t, s: None).state.id  # fmt: skip
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    arm()
    with pytest.raises(Killed):
        runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                   secrets={"wlan0": PSK}, out=io.StringIO())  # fmt: skip
    create_exclusive(tmp_path / "pending", txn_id)  # a killed process runs no `finally`
    store.with_runner(txn_id, DEAD_PID)
    assert store.load(txn_id).phase == "finishing" and box.checkpoint is None
    return store, clock, txn_id


def _kill_on_write(box: FakeBox, path: str) -> Callable[[], None]:
    def arm() -> None:
        write = box.write_bytes

        def write_or_die(p: str, data: bytes, mode: int = 0o600) -> None:
            if p == path:
                del box.write_bytes  # the next process finds a working box
                raise Killed
            write(p, data, mode)

        box.write_bytes = write_or_die  # type: ignore[method-assign]

    return arm


def _clean_run(tmp_path: Path) -> FakeBox:
    box, clock = FakeBox(netplan_start()), FakeClock()
    store = Store(tmp_path / "clean")
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    txn_id = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                           launch=lambda t, s: None).state.id  # fmt: skip
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                       secrets={"wlan0": PSK}, out=io.StringIO())  # fmt: skip
    assert final.outcome == "committed" and not final.reason
    return box


def _world(box: FakeBox) -> tuple[dict[str, tuple[str, str]], dict[str, bytes]]:
    return {p.id: (p.filename, repr(p.settings)) for p in box.profiles.values()}, box.files


def test_killed_before_the_bonds_yaml_the_next_status_finishes_the_change(
    tmp_path: Path,
) -> None:
    """Measured in the lab (editing netplan x SIGKILL): committed at the new address, but
    the netplan profiles stayed loaded beside the bond and 50-cloud-init.yaml unedited."""
    box = FakeBox(netplan_start())
    store, clock, txn_id = _killed(tmp_path / "box", box, _kill_on_write(box, OWN))
    assert OWN not in box.files and set(box.profiles) >= {"u-eth0", "u-wlan0"}
    clock.sleep(30)

    report = glance.status(_env(store, clock, box))
    assert report.last is not None and report.last.id == txn_id
    state = store.load(txn_id)
    assert state.outcome == "committed" and state.phase == "committed"
    assert state.reason == (
        "committed (the checkpoint was destroyed); finished by `tightrope status` after its "
        f"runner died: did write {OWN}; remove ethernets.eth0, wifis.wlan0 from {LAB}; "
        f"{GENERATE}; retire netplan-eth0; retire netplan-wlan0-TightropeLab")
    assert store.pending_id() is None and control.last_undoable(store) == txn_id
    assert state.timings["last-seen"] < clock.now()  # the runner's last word, not ours
    # The box is as a clean run leaves it, byte for byte: the PSK came from NetworkManager.
    assert _world(box) == _world(_clean_run(tmp_path))
    assert PSK in box.files[OWN].decode()
    notes = [s.detail for s in state.steps]
    assert any(n.startswith("`tightrope status` finishes what was left after its runner died")
               for n in notes)  # fmt: skip
    assert f"wrote {OWN}" in notes
    for f in (tmp_path / "box" / "txn" / txn_id).iterdir():
        if f.is_file():
            assert PSK not in f.read_text(), f.name
    assert PSK not in repr(state)


def test_killed_at_netplan_generate_a_log_finishes_what_is_left(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())

    def arm() -> None:
        def kill() -> bool:
            del box.netplan_generate
            raise Killed

        box.netplan_generate = kill  # type: ignore[method-assign]

    store, clock, _txn_id = _killed(tmp_path, box, arm)
    writes = [c for c in box.calls if c.startswith("write ")]
    (v,) = app.history(_env(store, clock, box))
    assert v.outcome == "committed"
    assert v.reason.endswith(f"finished by `tightrope log` after its runner died: did "
                             f"{GENERATE}; retire netplan-eth0; retire "
                             "netplan-wlan0-TightropeLab")  # fmt: skip
    # What was done and struck off is not done again.
    assert [c for c in box.calls if c.startswith("write ")] == writes
    assert set(box.profiles) == {p.uuid for p in make_plan(
        seed_config(), netplan_start()).desired}  # fmt: skip


def test_a_chore_that_fails_is_a_problem_of_a_committed_change(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, clock, _txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))

    def broken() -> bool:
        raise RuntimeError("netplan: cannot parse /etc/netplan/60-admin.yaml")

    box.netplan_generate = broken  # type: ignore[method-assign]
    state = expiry.expire_stale(store, clock, "boot-1", glance.finisher(
        _env(store, clock, box), "tightrope status"))  # fmt: skip
    assert state is not None and state.outcome == "committed"
    assert ("`tightrope status` went on with it after its runner died: did write "
            f"{OWN}; remove ethernets.eth0, wifis.wlan0 from {LAB}; {GENERATE}; retire "
            "netplan-eth0; retire netplan-wlan0-TightropeLab; problems: netplan generate "
            "failed: netplan: cannot parse /etc/netplan/60-admin.yaml") in state.reason
    assert store.pending_id() is None


def test_a_chore_that_breaks_stops_the_rest_and_says_what_is_left(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, clock, _txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    lab_before = box.files[LAB]
    write = box.write_bytes

    def full(path: str, data: bytes, mode: int = 0o600) -> None:
        if path == OWN:
            raise OSError(28, "No space left on device")
        write(path, data, mode)

    box.write_bytes = full  # type: ignore[method-assign]
    report = glance.status(_env(store, clock, box))
    assert report.last is not None and report.last.outcome == "committed"
    reason = report.last.reason
    assert f"did nothing; problems: write {OWN}: OSError: [Errno 28] No space" in reason
    assert f"left undone: write {OWN}; remove ethernets.eth0" in reason
    assert "Apply the same configuration again to finish it" in reason
    # Tightrope's file first, or nothing: the stanzas stay until the bond is on the disk.
    assert box.files[LAB] == lab_before and box.generated == 0


def test_a_reboot_before_the_bonds_yaml_is_left_untouched(tmp_path: Path) -> None:
    """The bond lived in memory only: the box booted its old configuration. Finishing the
    chores now would bring the bond back without a checkpoint: nothing is run."""
    box = FakeBox(netplan_start())
    store, clock, _txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    made: list[str] = []
    calls, files = list(box.calls), dict(box.files)
    report = glance.status(_env(store, clock, box, boot="boot-2", made=made))
    assert report.last is not None and report.last.outcome == "aborted"
    assert "rebooted before the bond reached the disk" in report.last.reason
    assert made == [] and box.calls == calls and box.files == files


def test_a_reboot_after_the_bonds_yaml_finishes_the_rest(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, clock, _txn_id = _killed(tmp_path, box, _kill_on_write(box, LAB))
    report = glance.status(_env(store, clock, box, boot="boot-2"))
    assert report.last is not None and report.last.outcome == "committed"
    assert ("finished by `tightrope status` after the box rebooted: did remove "
            f"ethernets.eth0, wifis.wlan0 from {LAB}; {GENERATE}") in report.last.reason
    assert b"eth0" not in box.files[LAB]


def test_nothing_left_runs_nothing(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, clock, txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    store.update(store.load(txn_id), unfinished="nothing")
    made: list[str] = []
    calls = list(box.calls)
    report = glance.status(_env(store, clock, box, made=made))
    assert report.last is not None and report.last.outcome == "committed"
    assert "left undone: nothing" in report.last.reason
    assert made == [] and box.calls == calls


def test_an_undo_is_not_finished_here(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, clock, txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    store.update(store.load(txn_id), kind="undo")
    made: list[str] = []
    glance.status(_env(store, clock, box, made=made))
    assert made == [] and "Apply the same configuration again" in store.load(txn_id).reason


def test_one_being_finished_by_another_process_is_left_to_it(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, clock, txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    fd = os.open(store.txn_dir(txn_id) / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        env = _env(store, clock, box)
        assert expiry.expire_stale(store, clock, "boot-1", glance.finisher(env, "x")) is None
        assert store.pending_id() == txn_id and OWN not in box.files
    finally:
        os.close(fd)
    glance.status(_env(store, clock, box))
    assert store.load(txn_id).outcome == "committed" and OWN in box.files


def test_without_the_snapshot_it_was_planned_from_the_admin_is_told(tmp_path: Path) -> None:
    """A change started by an older tightrope has no before.json: applying again finishes."""
    box = FakeBox(netplan_start())
    store, clock, txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    (store.txn_dir(txn_id) / "before.json").unlink()
    report = glance.status(_env(store, clock, box))
    assert report.last is not None and report.last.outcome == "committed"
    assert ("`tightrope status` could not finish it by itself (there is no record of the box "
            "it was planned from)") in report.last.reason
    assert "Apply the same configuration again" in report.last.reason
    assert OWN not in box.files


def test_without_the_psk_tightropes_file_is_never_written(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, clock, _txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    port = next(p for p in box.profiles.values() if p.id == "bond0-port-wlan0")
    settings = {k: dict(v) for k, v in port.settings.items()}
    settings["802-11-wireless-security"].pop("psk")
    box.profiles[port.uuid] = type(port)(**{**port.__dict__, "settings": settings})
    report = glance.status(_env(store, clock, box))
    assert report.last is not None and report.last.outcome == "committed"
    assert "the PSK for wlan0 is not in NetworkManager's profile" in report.last.reason
    assert OWN not in box.files and b"eth0" in box.files[LAB]


def test_keyfile_box_retires_what_is_left_and_one_retired_before_the_kill(
    tmp_path: Path,
) -> None:
    """Killed after deleting a profile, before striking it off: deleting it again is done."""
    box = FakeBox(netplan_start(netplan_files={}))

    def arm() -> None:
        delete = box.delete_profile

        def delete_then_die(uuid: str) -> None:
            delete(uuid)
            del box.delete_profile
            raise Killed

        box.delete_profile = delete_then_die  # type: ignore[method-assign]

    store, clock, txn_id = _killed(tmp_path, box, arm)
    assert store.load(txn_id).unfinished == "retire netplan-eth0; retire netplan-wlan0-TightropeLab"
    report = glance.status(_env(store, clock, box))
    assert report.last is not None and report.last.outcome == "committed"
    assert report.last.reason.endswith("did retire netplan-eth0; retire "
                                       "netplan-wlan0-TightropeLab")  # fmt: skip
    assert {p.id for p in box.profiles.values()} == {"bond0", "bond0-port-eth0",
                                                     "bond0-port-wlan0"}  # fmt: skip
    notes = [s.detail for s in store.load(txn_id).steps]
    assert "retired netplan-eth0 (it was gone already)" in notes


def test_a_runner_that_could_not_record_its_end_is_finished_holding_the_lock(
    tmp_path: Path,
) -> None:
    """An orphan (a runner that freed the lock without recording its end: a full disk) with
    chores left: they run with the change lock taken, so no apply starts meanwhile."""
    box = FakeBox(netplan_start())
    store, clock, txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    store.release(txn_id)
    held: list[str | None] = []
    generate = box.netplan_generate

    def generate_watching() -> bool:
        held.append(store.pending_id())
        return generate()

    box.netplan_generate = generate_watching  # type: ignore[method-assign]
    (v,) = app.history(_env(store, clock, box))
    assert v.outcome == "committed"
    assert "finished by `tightrope log` after its runner ended" in v.reason
    assert held == [txn_id] and store.pending_id() is None
    assert store.load(txn_id).outcome == "committed"


def test_the_snapshot_planned_from_is_kept_without_secrets(tmp_path: Path) -> None:
    box = FakeBox(netplan_start())
    store, _clock, txn_id = _killed(tmp_path, box, _kill_on_write(box, OWN))
    before = store.before(txn_id)
    assert isinstance(before, Snapshot) and before.profile("u-wlan0") is not None
    text = (store.txn_dir(txn_id) / "before.json").read_text()
    assert "password: x" not in text and PSK not in text
    assert oct((store.txn_dir(txn_id) / "before.json").stat().st_mode & 0o777) == "0o600"
