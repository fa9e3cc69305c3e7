"""After any interruption, `status` and `log` (on the box and from the laptop) tell what became
of the last change, when, and what is running now; a stuck lock is told with its recovery
(issue 16 items 4 and 5). The store is a temporary directory, the clock a fake one."""

from __future__ import annotations

import errno
import io
import json
from pathlib import Path

import pytest

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tests.unit.test_plan import PSK, seed_config
from tightrope import proto
from tightrope.box import app, glance
from tightrope.box.env import BoxEnv
from tightrope.cli import render, render_txn
from tightrope.core.plan import make_plan
from tightrope.core.status import report_from_dict
from tightrope.errors import Busy, Exit
from tightrope.txn import control, runner
from tightrope.txn.engine import Transaction
from tightrope.txn.state import StepLog, Store, TxnState

DEAD_PID = 2**22 + 1  # above pid_max's default: no such process


def _env(store: Store, clock: FakeClock, box: FakeBox, boot: str = "boot-1",
         root: bool = True) -> BoxEnv:  # fmt: skip
    return BoxEnv(store=store, clock=clock, boot_id=lambda: boot,
                  read_snapshot=lambda s: box.snapshot(include_secrets=s),
                  launch=lambda t, s: None, require_root=lambda: None,
                  is_root=lambda: root)  # fmt: skip


def _pending(tmp_path: Path, phase: str = "awaiting-confirm") -> tuple[Store, FakeClock, FakeBox,
                                                                      str]:  # fmt: skip
    """A change started on boot-1 whose runner got as far as `phase`, then went silent."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    store = Store(tmp_path)
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    started = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                            launch=lambda txn_id, secrets: None)  # fmt: skip
    clock.sleep(20)
    state = store.update(started.state, phase=phase, runner_pid=DEAD_PID,
                         timings={phase: clock.now()},
                         steps=(StepLog("verify", "done", clock.now()),))  # fmt: skip
    clock.sleep(600)  # found later: the box was off for ten minutes, or nobody looked
    return store, clock, box, state.id


def _start(store: Store, box: FakeBox, clock: FakeClock) -> str:
    """The seed's change started on boot-1, its runner not yet run."""
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    return control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                         launch=lambda t, s: None).state.id  # fmt: skip


def _run(store: Store, box: FakeBox, clock: FakeClock, txn_id: str) -> TxnState:
    return runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                      secrets={"wlan0": PSK}, out=io.StringIO())  # fmt: skip


@pytest.mark.parametrize("cut", ["reboot", "runner-killed"])
def test_log_tells_how_a_cut_change_ended_when_and_that_nothing_runs(
    tmp_path: Path, cut: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store, clock, box, txn_id = _pending(tmp_path)
    last_seen = clock.now() - 600
    env = _env(store, clock, box, boot="boot-2" if cut == "reboot" else "boot-1")
    views = app.history(env)
    (v,) = views
    assert v.outcome == "aborted" and v.ended == clock.now() and v.last_seen == last_seen
    assert ("rebooted" if cut == "reboot" else "runner died") in v.reason
    assert store.pending_id() is None
    assert app.log(env, txn_id) == v  # one transaction's log says the same

    render_txn.history(views, as_json=False)
    text = capsys.readouterr().out
    assert "cut short after" in text and "found ended at" in text
    assert "now: no change is pending" in text
    render_txn.history(views, as_json=True)
    (doc,) = json.loads(capsys.readouterr().out)
    assert doc["ended"] == clock.now() and doc["last_seen"] == last_seen
    # From the laptop: the same views cross the wire unchanged.
    answer = proto.HistoryAnswer(txns=views)
    assert proto.decode(proto.encode(answer), proto.HistoryAnswer) == answer


def test_log_of_one_cut_change_ends_it_first(tmp_path: Path) -> None:
    store, clock, box, txn_id = _pending(tmp_path, phase="verifying")
    v = app.log(_env(store, clock, box, boot="boot-2"), txn_id)
    assert v.outcome == "aborted" and "rebooted before confirmation" in v.reason


def test_without_root_log_and_status_only_look(tmp_path: Path) -> None:
    store, clock, box, txn_id = _pending(tmp_path)
    env = _env(store, clock, box, boot="boot-2", root=False)
    (v,) = app.history(env)
    assert v.outcome is None and store.pending_id() == txn_id


def test_log_says_what_runs_now(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store, clock, box, txn_id = _pending(tmp_path)
    store.update(store.load(txn_id), runner_pid=None, deadline_boot=clock.mono() + 42)
    render_txn.history(app.history(_env(store, clock, box)), as_json=False)
    assert f"now: apply {txn_id} is pending (awaiting-confirm, 42 s left" in capsys.readouterr().out


def test_status_tells_when_a_cut_change_was_last_heard_of(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, clock, box, txn_id = _pending(tmp_path)
    report = glance.status(_env(store, clock, box, boot="boot-2"))
    assert report.last is not None and report.last.id == txn_id
    assert report.last.ended == clock.now() and report.last.last_seen == clock.now() - 600
    assert report_from_dict(report.to_dict()) == report
    render.status(report, as_json=False)
    assert "last heard of at" in capsys.readouterr().out


# --- a stuck lock ---------------------------------------------------------------------


def _stuck(tmp_path: Path) -> tuple[BoxEnv, str]:
    """An older change cut by a reboot, then one whose state file was lost (say, a bad SD card)."""
    store, clock, box, _ = _pending(tmp_path)
    app.history(_env(store, clock, box, boot="boot-2"))  # ends the first one
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    clock.sleep(5)
    stuck = control.start(config, plan, store=store, clock=clock, boot_id="boot-2",
                          launch=lambda txn_id, secrets: None).state.id  # fmt: skip
    (store.txn_dir(stuck) / "state.json").write_text('{"id": "2026')
    return _env(store, clock, box, boot="boot-2"), stuck


def test_status_shows_a_stuck_lock_and_how_to_recover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env, stuck = _stuck(tmp_path)
    report = glance.status(env)
    assert report.stuck is not None and report.stuck.id == stuck
    assert report.stuck.lock == str(tmp_path / "pending")
    steps = " ".join(report.stuck.recovery)
    assert f"systemctl status 'tightrope-txn-{stuck}.*'" in steps
    assert f"sudo rm {tmp_path / 'pending'}" in steps and "checkpoint" in steps
    assert str(tmp_path / "txn" / stuck / "state.json") in report.stuck.problem
    assert report.last is not None and report.last.outcome == "aborted"  # still told
    assert report_from_dict(report.to_dict()) == report
    render.status(report, as_json=False)
    out = capsys.readouterr().out
    assert "change lock stuck" in out and f"sudo rm {tmp_path / 'pending'}" in out


def test_a_new_change_is_refused_naming_the_stuck_lock_and_the_way_out(tmp_path: Path) -> None:
    env, stuck = _stuck(tmp_path)
    with pytest.raises(Busy) as caught:
        app.plan(env, seed_config())
    assert caught.value.exit_code == Exit.BUSY
    assert "lock is stuck" in str(caught.value) and stuck in str(caught.value)
    hint = caught.value.hint
    assert hint.startswith("To recover: 1) ") and f"tightrope-txn-{stuck}" in hint
    assert f"4) Free the lock: `sudo rm {tmp_path / 'pending'}`" in hint


def test_log_lists_the_unreadable_transaction_that_holds_the_lock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env, stuck = _stuck(tmp_path)
    views = app.history(env)
    assert [v.phase for v in views] == ["aborted", "unreadable"]
    assert views[-1].id == stuck and "lock is stuck" in views[-1].reason
    assert "sudo rm" in views[-1].reason
    render_txn.history(views, as_json=False)
    assert "now: the change lock is stuck" in capsys.readouterr().out


# --- a disk full under the state directory ----------------------------------------------


class FullStore(Store):
    """The state directory's file system, filled up by whoever sets `full`."""

    full = False
    fill_at = ""  # or it fills as the runner writes this phase

    def save(self, state: TxnState) -> None:
        if state.phase == self.fill_at:
            self.full = True
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().save(state)


def test_a_disk_full_while_awaiting_confirmation_still_ends_told(tmp_path: Path) -> None:
    """Measured in the fault bench: the runner could not write its end, died with a
    traceback after freeing the lock, and log showed the change still awaiting confirmation
    for ever. Now the runner says the outcome in the journal and ends cleanly, and the next
    look as root tells (and, once there is room, records) how it ended."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    before = dict(box.profiles)
    store = FullStore(tmp_path)
    config = seed_config()
    plan = make_plan(config, box.snapshot(include_secrets=True))
    txn_id = control.start(config, plan, store=store, clock=clock, boot_id="boot-1",
                           confirm_timeout_s=30, launch=lambda t, s: None).state.id  # fmt: skip
    store.with_runner(txn_id, DEAD_PID)  # as launch records it; gone when it ends

    def fill(_: float) -> None:
        if not store.full and store.load(txn_id).phase == "awaiting-confirm":
            store.full = True

    clock.on_sleep.append(fill)
    journal = io.StringIO()
    final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                       secrets={"wlan0": PSK}, out=journal)  # fmt: skip
    assert final.outcome == "rolled-back" and box.profiles == before
    assert "could not record the outcome (No space left on device): rolled-back" in (
        journal.getvalue())
    assert store.pending_id() is None and store.load(txn_id).phase == "awaiting-confirm"

    env = _env(store, clock, box)
    (v,) = app.history(env)  # the disk is still full: told, not yet recorded
    assert v.outcome == "aborted" and "without recording how the change ended" in v.reason
    assert "rolled back" in v.reason and store.load(txn_id).outcome is None
    assert glance.status(env).last is not None
    store.full = False
    app.history(env)
    assert store.load(txn_id).outcome == "aborted"


def test_a_log_that_cannot_be_written_never_stops_the_rollback() -> None:
    undone: list[str] = []

    class Done:
        def __init__(self, name: str) -> None:
            self.name = name

        def commit(self) -> None:
            pass

        def rollback(self) -> None:
            undone.append(self.name)

    def log(name: str, status: str, detail: str) -> None:
        if name == "c":  # the disk fills as the third step starts
            raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(OSError):
        Transaction([Done("a"), Done("b"), Done("c")], log).run()
    assert undone == ["b", "a"]


def test_a_disk_full_during_verification_is_a_rollback_with_what_to_do(tmp_path: Path) -> None:
    """Measured: the outcome was `failed` with `OSError: [Errno 28] ...`."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    before = dict(box.profiles)
    store = FullStore(tmp_path)
    txn_id = _start(store, box, clock)
    store.fill_at = "verifying"
    final = _run(store, box, clock, txn_id)
    assert final.outcome == "rolled-back" and box.profiles == before
    assert f"could not write the change's state under {tmp_path}" in final.reason
    assert "make room there and apply again" in final.reason


def test_the_new_profiles_are_on_the_disk_before_the_point_of_no_return(tmp_path: Path) -> None:
    """Measured (fault bench, power cut while persisting): NetworkManager's new keyfiles came
    back empty, tightrope's netplan edit did not, and the box booted with neither set. The
    commit now syncs after writing the profiles and before destroying the checkpoint; so does
    undo's. (A box whose ports come from netplan gets no keyfile: test_txn covers its order.)"""
    box, clock = FakeBox(netplan_start(netplan_files={})), FakeClock()
    store = Store(tmp_path)
    txn_id = _start(store, box, clock)
    clock.on_sleep.append(lambda t: store.raise_flag(store.pending_id() or txn_id, "confirm"))
    for kind in ("apply", "undo"):
        box.calls.clear()
        final = _run(store, box, clock, txn_id)
        assert final.outcome == "committed", (kind, final.reason)
        to_disk = max((i for i, c in enumerate(box.calls) if c.endswith(" disk")), default=-1)
        assert to_disk < box.calls.index("sync") < box.calls.index("checkpoint_destroy"), kind
        if kind == "apply":
            txn_id = control.start_undo(store, clock=clock, boot_id="boot-1",
                                        launch=lambda t, s: None).state.id  # fmt: skip


def test_a_disk_full_after_the_point_of_no_return_does_not_stop_the_chores(
    tmp_path: Path,
) -> None:
    """Measured (fault bench, bug 6): the state directory filled while netplan was being
    edited; the runner stopped at the first record it could not write, leaving the bond in
    memory beside the old profiles. The chores now run to the end; only their record is lost."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    store = FullStore(tmp_path)
    txn_id = _start(store, box, clock)
    clock.on_sleep.append(lambda t: store.raise_flag(txn_id, "confirm"))
    saves = {"finishing": 0}
    real_save = FullStore.save

    def save(state: TxnState) -> None:
        if state.phase == "finishing":
            saves["finishing"] += 1
            if saves["finishing"] == 2:  # the first chore's record: the disk is full now
                store.full = True
        real_save(store, state)

    store.save = save  # type: ignore[method-assign]
    journal = io.StringIO()
    final = runner.run(txn_id, store=store, backend=box, system=box, clock=clock,
                       secrets={"wlan0": PSK}, out=journal)  # fmt: skip
    assert final.outcome == "committed"
    assert "could not record the progress" in final.reason
    # Every chore ran: netplan rendered the bond, the old profiles are gone.
    assert box.generated == 1
    assert {p.id for p in box.profiles.values()} == {"bond0", "bond0-port-eth0",
                                                     "bond0-port-wlan0"}  # fmt: skip
    assert "could not record the outcome (No space left on device): committed" in (
        journal.getvalue())


def test_a_disk_full_while_rolling_back_still_removes_our_profiles(tmp_path: Path) -> None:
    """Fault bench, activation x disk full: the note after NetworkManager's checkpoint
    rollback could not be written, and that skipped the rest of the step's rollback (which
    makes sure no profile of ours remains). Here the checkpoint leaves them behind."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    before = dict(box.profiles)
    box.gateway_answers = False
    box.gateway_answers_arp = False  # a wrong gateway: verification rolls back
    store = FullStore(tmp_path)
    txn_id = _start(store, box, clock)
    real_rollback = box.checkpoint_rollback

    def rollback_leaving_ours(checkpoint: str) -> None:
        ours = {u: p for u, p in box.profiles.items() if u not in before}
        real_rollback(checkpoint)
        box.profiles.update(ours)
        store.full = True

    box.checkpoint_rollback = rollback_leaving_ours  # type: ignore[method-assign]
    final = _run(store, box, clock, txn_id)
    assert final.outcome == "rolled-back"
    assert box.profiles == before


def test_a_checkpoint_made_just_before_the_disk_filled_is_not_left_behind(
    tmp_path: Path,
) -> None:
    """Fault bench, checkpoint x disk full: the note after the checkpoint was made could not
    be written, the step failed, and the checkpoint stayed for NetworkManager's 30 s guard."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    before = dict(box.profiles)
    store = FullStore(tmp_path)
    txn_id = _start(store, box, clock)
    real_create = box.checkpoint_create

    def create_then_fill(devices: list[str], timeout_s: int) -> str:
        path = real_create(devices, timeout_s)
        store.full = True
        return path

    box.checkpoint_create = create_then_fill  # type: ignore[method-assign]
    final = _run(store, box, clock, txn_id)
    assert final.outcome in ("rolled-back", "failed")
    assert box.checkpoint is None and box.profiles == before
    assert "checkpoint_rollback" in box.calls


def test_a_checkpoint_networkmanager_refused_rolls_back_cleanly(tmp_path: Path) -> None:
    """The checkpoint step is undone when it fails, also when it failed before there was a
    checkpoint (one left over from a crashed run blocks a new one)."""
    box, clock = FakeBox(netplan_start()), FakeClock()
    before = dict(box.profiles)
    box.checkpoint = ("/cp/0", {"devices": ["eth0"], "profiles": {}, "devs": {}})
    store = Store(tmp_path)
    txn_id = _start(store, box, clock)
    final = _run(store, box, clock, txn_id)
    assert final.outcome in ("rolled-back", "failed") and "overlapping" in final.reason
    assert box.profiles == before
    assert not any(s.status == "rollback-failed" for s in final.steps), final.steps
