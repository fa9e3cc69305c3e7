"""The journey against a stand-in box: the real agent (tightrope.box.agent) serving encoded
protocol lines, on a fake NetworkManager, state directory and clock; no SSH, nothing patched."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tests.unit.test_plan import PSK, seed_config
from tightrope import proto
from tightrope.box import app
from tightrope.box.agent import REQUESTS, Agent, error_answer
from tightrope.box.env import BoxEnv
from tightrope.errors import Exit, TightropeError, worst
from tightrope.remote.journey import (
    Outcome,
    Until,
    apply_journey,
    request_config,
    undo_journey,
)
from tightrope.remote.session import AgentSession, OnEvent, interpret
from tightrope.remote.sshfail import SshFailure, classify
from tightrope.txn.state import Store

M = TypeVar("M", bound=proto.Message)
NEW = "198.18.1.64"
OPTS = proto.Options(confirm_timeout=30, verify_timeout=40)


class LoopChannel:
    """A channel to an in-process agent, through the same bytes the wire carries."""

    def __init__(self, agent: Agent, tamper: Any = None) -> None:
        self.agent, self.tamper, self.closed = agent, tamper, False

    def call(self, request: proto.Message, expect: type[M], *, timeout: float = 180,
             on_event: OnEvent | None = None) -> M:  # fmt: skip
        lines: list[bytes] = []
        msg = proto.decode(proto.encode(request), *REQUESTS)
        try:
            answer = self.agent.handle(msg, lambda m: lines.append(proto.encode(m)))
        except (TightropeError, proto.ProtocolError) as exc:
            answer = error_answer(exc)
        lines.append(proto.encode(answer))
        for line in lines:
            if self.tamper is not None:
                line = self.tamper(line)
            got = interpret(line, expect, "the box", on_event)
            if got is not None:
                return got
        raise AssertionError("no answer")

    def close(self) -> None:
        self.closed = True

    def abandon(self) -> None:
        self.abandoned = self.closed = True


class StandInBox:
    """The box: a fake NetworkManager, a real state directory, and a 'runner' that commits
    when confirmed (or rolls back when the window ends)."""

    def __init__(self, tmp: Path) -> None:
        self.fake = FakeBox(netplan_start())
        self.clock = FakeClock()
        self.store = Store(tmp)
        self.snapshots = 0
        self.moved = False  # the box "changes" between plan and start
        self.at_new = True  # the box answers at NEW once started
        self.impostor = False  # another machine answers at NEW
        self.tamper: Any = None
        self.opened: list[str | None] = []
        self.probes: list[tuple[str | None, bool]] = []  # (address, kept as the master)
        self.forgotten: list[str | None] = []
        self.fails_at_confirm = ""  # a reason: the change rolls back while confirmed
        self.rollback_after_s, self.rollback_reason = 80.0, "not confirmed in time"
        self.env = BoxEnv(store=self.store, clock=self.clock, boot_id=lambda: "boot-1",
                          read_snapshot=self._snapshot, launch=lambda txn, secrets: None,
                          require_root=lambda: None, is_root=lambda: True)  # fmt: skip
        self.clock.on_sleep.append(self._runner)

    def _snapshot(self, include_secrets: bool) -> Any:
        self.snapshots += 1
        snap = self.fake.snapshot(include_secrets=include_secrets)
        if self.moved and self.snapshots > 1:
            return dataclasses.replace(snap, profiles=snap.profiles[:1])
        return snap

    def _runner(self, now: float) -> None:
        pending = self.store.pending_id()
        if pending is None:
            return
        state = self.store.load(pending)
        if self.store.flag(pending, "confirm") and self.fails_at_confirm:
            # Verification fails after the confirmation came: rolling back, then rolled back.
            if state.phase != "rolling-back":
                self.store.update(state, phase="rolling-back", reason=self.fails_at_confirm)
            else:
                self.store.update(state, phase="rolled-back", outcome="rolled-back",
                                  reason=self.fails_at_confirm)  # fmt: skip
                self.store.release(pending)
        elif self.store.flag(pending, "confirm"):
            self.store.update(state, phase="committed", outcome="committed")
            self.store.release(pending)
        elif now - state.created > self.rollback_after_s:
            self.store.update(state, phase="rolled-back", outcome="rolled-back",
                              reason=self.rollback_reason)  # fmt: skip
            self.store.release(pending)

    # -- Reach --
    name = "root@198.18.1.50"
    old = "198.18.1.50"

    def open(self, address: str | None) -> LoopChannel:
        self.opened.append(address)
        return LoopChannel(Agent(self.env), self.tamper)

    def probe(
        self, address: str | None, timeout: int, *, keep: bool = False
    ) -> TightropeError | None:
        self.probes.append((address, keep))
        self.clock.sleep(0.5)
        if address is None:
            return None if self.store.pending_id() is None else classify(255, "timed out", "x")
        if self.impostor:
            return classify(255, "Host key verification failed.", address)
        return None if self.at_new else classify(255, "Connection timed out", address)

    def check_can_follow(self) -> None:
        pass

    def forget(self, address: str | None) -> None:
        self.forgotten.append(address)


def _run(box: StandInBox, consent_s: float = 0.0, **kw: Any) -> Any:
    """consent_s: how long the yes takes (0: `--yes`; a person takes seconds)."""
    events: list[tuple[str, str]] = []
    box.opened = []

    def consent(answer: Any) -> bool:
        box.clock.sleep(consent_s)
        return True

    result = apply_journey(box, seed_config(), OPTS, consent=consent,
                           emit=lambda p, m: events.append((p, m)), clock=box.clock.now,
                           sleep=box.clock.sleep, **kw)  # fmt: skip
    return result, events


def test_journey_plans_starts_follows_and_confirms_one_agent_per_address(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    result, events = _run(box)
    assert result.outcome == Outcome.COMMITTED and result.exit_code == 0
    assert result.new_address == NEW
    assert box.opened == [None, NEW]  # one session at the old address, one at the new
    assert box.snapshots == 1  # `--yes`: the start takes the plan's read, a moment old
    assert any(p == "reached" for p, _ in events)
    # The probe that found the new address keeps its connection for that session; the old
    # address (which may be going away) is never probed on a kept one.
    assert box.probes[-1] == (NEW, True)
    assert all(not keep for address, keep in box.probes if address != NEW)


def test_after_a_person_s_yes_the_start_reads_the_box_again(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    result, _ = _run(box, consent_s=6.0)
    assert result.outcome == Outcome.COMMITTED
    assert box.snapshots == 2  # the plan's read, and the start's own to check the agreed plan


def test_a_box_that_moved_after_the_plan_is_refused_with_the_difference(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    box.moved = True
    with pytest.raises(TightropeError) as err:
        _run(box, consent_s=30.0)
    assert err.value.exit_code == Exit.PLAN_CHANGED
    assert "changed since the plan you agreed to" in str(err.value)
    assert box.store.pending_id() is None and box.store.all_ids() == []  # nothing started


def test_hostile_transaction_id_from_the_box_is_refused(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    box.tamper = lambda line: line.replace(b'"id":"', b'"id":"../../etc;rm -rf /;')
    with pytest.raises(TightropeError, match="outside tightrope's protocol"):
        _run(box)


def test_the_laptop_connects_where_its_config_says_not_where_the_box_says(
    tmp_path: Path,
) -> None:
    box = StandInBox(tmp_path)
    box.tamper = lambda line: line.replace(b'"reconnect_at":"198.18.1.64"',
                                           b'"reconnect_at":"-oProxyCommand=sh"')  # fmt: skip
    result, _ = _run(box)
    assert result.outcome == Outcome.COMMITTED and NEW in box.opened
    assert all(a in (None, NEW) for a in box.opened)


def test_undo_refuses_to_follow_a_box_named_address_that_is_not_an_ip(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    _run(box)  # a committed change to undo
    (tmp_path / "txn").joinpath(box.store.all_ids()[0], "backup", "manifest.json").write_text(
        '{"addresses": {"eth0": ["-oProxyCommand=sh/24"]}}')  # fmt: skip
    result = undo_journey(box, None, OPTS, emit=lambda p, m: None, clock=box.clock.now,
                          sleep=box.clock.sleep)  # fmt: skip
    assert result.outcome == Outcome.UNKNOWN and "not an IP address" in result.reason
    assert result.exit_code == Exit.FAILED


def test_an_impostor_at_the_new_address_gets_no_confirmation(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    box.impostor = True
    result, events = _run(box)
    assert NEW not in box.opened  # never logged in there, never confirmed there
    assert result.outcome == Outcome.ROLLED_BACK and result.exit_code == Exit.FAILED
    assert "different host key" in result.reason
    assert any(p == "impostor" for p, _ in events)


def test_a_silent_new_address_waits_for_the_rollback_and_says_why(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    box.at_new = False
    result, events = _run(box)
    assert result.outcome == Outcome.ROLLED_BACK and result.reason == "not confirmed in time"
    waits = [m for p, m in events if p == "waiting"]
    assert waits and "rolls back by itself within" in waits[0]


def test_a_change_rolled_back_early_is_reported_when_the_old_address_is_back(
    tmp_path: Path,
) -> None:
    """Verification rolls a change that cannot work back in seconds: the laptop learns it
    from the old address then, not when the windows it was following for have ended."""
    box = StandInBox(tmp_path)
    box.at_new = False
    box.rollback_after_s = 15.0
    box.rollback_reason = "the access point 'TightropeLab' refused the PSK for wlan0; check it"
    result, events = _run(box)
    assert (result.outcome, result.reason) == (Outcome.ROLLED_BACK, box.rollback_reason)
    assert result.seconds < 15.0 + 10  # the windows: verify 40 s + confirm 30 s
    assert any(p == "back" for p, _ in events)


def test_the_old_address_echoing_again_is_asked_at_once(tmp_path: Path) -> None:
    """With the echo running, the old address answering again is asked how the change ended
    right away (no SSH probe, no 5 s cadence), on a fresh connection, and the box is asked to
    wait for the end it is recording."""
    box = StandInBox(tmp_path)
    box.at_new = False
    box.rollback_after_s = 12.0
    box.rollback_reason = "no ARP reply from 198.18.1.254 on bond0: wrong gateway or wrong subnet?"
    t0 = box.clock.now()
    asked: list[tuple[str | None, proto.Message]] = []
    real_open = box.open

    def open_(address: str | None) -> Any:
        channel = real_open(address)
        call = channel.call

        def spy(request: proto.Message, expect: Any, **kw: Any) -> Any:
            asked.append((address, request))
            return call(request, expect, **kw)

        channel.call = spy  # type: ignore[method-assign]
        return channel

    box.open = open_  # type: ignore[method-assign]

    class Echo(_Watch):
        def old_answering(self) -> bool | None:
            # Silent while the change runs; back 1 s after its rollback.
            return not 2.0 < box.clock.now() - t0 < box.rollback_after_s + 1.0

    events: list[tuple[str, str]] = []
    result = apply_journey(box, seed_config(), OPTS, consent=lambda a: True,
                           emit=lambda p, m: events.append((p, m)), clock=box.clock.mono,
                           sleep=box.clock.sleep, watch=lambda new: Echo(None))  # fmt: skip
    assert (result.outcome, result.reason) == (Outcome.ROLLED_BACK, box.rollback_reason)
    assert result.seconds <= box.rollback_after_s + 1.0 + 1.5
    assert box.forgotten == [None]  # the stalled master, when the old address went silent
    assert not [a for a, _keep in box.probes if a is None]  # the echo said it: no SSH probe
    txn_asks = [r for a, r in asked if a is None and isinstance(r, proto.TxnRequest)]
    assert [(r.action, r.wait_s > 0) for r in txn_asks] == [("wait", True)]


def test_a_rollback_told_at_the_new_address_is_followed_to_the_old_one(
    tmp_path: Path,
) -> None:
    """Waiting at the new address (every port verified), the laptop hears the box say it is
    rolling back, and why, before that address goes; it lets go of it at once and gets the
    end from the old address, instead of waiting for a dead session."""
    box = StandInBox(tmp_path)
    box.fails_at_confirm = "the access point 'TightropeLab' refused the PSK for wlan0"
    channels: list[Any] = []
    real_open = box.open

    def open_(address: str | None) -> Any:
        channels.append((address, real_open(address)))
        return channels[-1][1]

    box.open = open_  # type: ignore[method-assign]
    result, events = _run(box)
    assert (result.outcome, result.reason) == (Outcome.ROLLED_BACK, box.fails_at_confirm)
    told = [m for p, m in events if p == "rolling-back"]
    assert told == [f"the box is rolling the change back: {box.fails_at_confirm}"]
    at_new = [c for a, c in channels if a == "198.18.1.64"]
    assert at_new and getattr(at_new[0], "abandoned", False)
    assert [a for a, _c in channels][-1] is None  # the end, from the old address


def test_plan_answer_carries_no_psk(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    seen: list[bytes] = []

    def spy(line: bytes) -> bytes:
        seen.append(line)
        return line

    box.tamper = spy
    _run(box)
    assert seen and not any(PSK.encode() in line for line in seen)


@pytest.mark.parametrize(("code", "stderr", "exit_code"), [
    (255, "ssh: connect to host 198.18.1.50 port 22: Connection timed out", Exit.NM_UNREACHABLE),
    (255, "ssh: connect to host 198.18.1.50 port 22: Connection refused", Exit.NM_UNREACHABLE),
    (255, "ssh: Could not resolve hostname nope: Name or service not known", Exit.NM_UNREACHABLE),
    (255, "No ED25519 host key is known for 198.18.1.50 and you have requested strict "
          "checking.\nHost key verification failed.", Exit.HOST_KEY),
    (255, "@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @", Exit.HOST_KEY),
    (255, "root@198.18.1.50: Permission denied (publickey).", Exit.SSH_AUTH),
    (127, "sh: 1: python3: not found", Exit.BOX_UNSUPPORTED),
    (97, "tightrope needs Python 3.10+, this is 3.9", Exit.BOX_UNSUPPORTED),
    (1, "sudo: a password is required", Exit.NOT_ROOT),
])  # fmt: skip
def test_every_ssh_failure_is_named_with_ssh_s_own_words(
    code: int, stderr: str, exit_code: Exit
) -> None:
    err = classify(code, stderr.encode(), "root@198.18.1.50")
    assert err.exit_code == exit_code
    assert stderr.splitlines()[-1].strip("@ ").split(":")[-1].strip()[:20] in str(err)


def test_a_session_whose_process_ends_without_answer_is_classified(tmp_path: Path) -> None:
    script = "echo 'root@198.18.1.50: Permission denied (publickey).' >&2; exit 255"
    session = AgentSession(["sh", "-c", script], b"", "root@198.18.1.50")
    with pytest.raises(SshFailure) as err:
        session.call(proto.Hello(), proto.HelloAnswer, timeout=10)
    assert err.value.exit_code == Exit.SSH_AUTH and "Permission denied" in str(err.value)


def test_a_session_speaks_json_lines_with_a_real_process(tmp_path: Path) -> None:
    # A stand-in agent process: answers each line with an error answer, then a hello.
    code = ("import sys\nfor line in sys.stdin:\n"
            " sys.stdout.write('{\"v\":1,\"type\":\"event\",\"message\":\"working\"}\\n')\n"
            " sys.stdout.write('{\"v\":1,\"type\":\"hello-answer\",\"version\":\"x\"}\\n')\n"
            " sys.stdout.flush()\n")  # fmt: skip
    session = AgentSession([sys.executable, "-c", code], b"", "the box")
    told: list[str] = []
    answer = session.call(proto.Hello(), proto.HelloAnswer, on_event=lambda e: told.append(
        e.message))  # fmt: skip
    assert answer.version == "x" and told == ["working"]
    session.close()


def test_fleet_exit_code_is_the_worst_host_s() -> None:
    assert worst([0, 0]) == 0
    assert worst([0, int(Exit.FAILED), int(Exit.PLAN_CHANGED)]) == Exit.FAILED
    assert worst([int(Exit.HOST_KEY), int(Exit.NM_UNREACHABLE), 0]) == Exit.NM_UNREACHABLE
    assert worst([int(Exit.BUSY), int(Exit.INVALID)]) == Exit.BUSY


def test_protocol_refuses_what_it_does_not_know() -> None:
    for bad in (b'{"v":1,"type":"txn","action":"confirm","txn":"$(reboot)"}',
                b'{"v":1,"type":"plan","psk":{"wlan0":1}}', b'{"v":2,"type":"hello"}',
                b'{"v":1,"type":"hello","extra":1}', b"[]", b"not json",
                b'{"v":1,"type":"txn","action":"wait","wait_s":5}'):  # fmt: skip
        with pytest.raises(proto.ProtocolError):
            proto.decode(bad)
    start = proto.StartRequest(psk={"wlan0": "s3cret-psk"}, fingerprint="f")
    assert "s3cret-psk" not in repr(start)


@pytest.mark.parametrize("options", [{"confirm_timeout": 0}, {"confirm_timeout": 86400},
                                     {"verify_timeout": -5}, {"verify_timeout": 601}])  # fmt: skip
def test_a_request_with_a_window_out_of_bounds_is_refused(options: dict[str, int]) -> None:
    line = proto.encode(proto.UndoRequest(options=proto.Options())).replace(
        b'"confirm_timeout":120,"verify_timeout":60',
        json.dumps({"confirm_timeout": 120, "verify_timeout": 60, **options},
                   separators=(",", ":"))[1:-1].encode())  # fmt: skip
    assert line != proto.encode(proto.UndoRequest(options=proto.Options()))
    (name,) = options
    with pytest.raises(proto.ProtocolError, match=f"{name} must be between"):
        proto.decode(line)


def test_wait_only_watches_and_answers_when_the_change_ended(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    result, _events = _run(box)
    channel = box.open(NEW)
    told: list[proto.Event] = []
    view = channel.call(proto.TxnRequest(action="wait", txn=result.txn, wait_s=30),
                        proto.TxnView, on_event=told.append)  # fmt: skip
    assert view.outcome == "committed" and view.id == result.txn and told == []


def test_a_confirm_that_waits_says_how_it_stands_every_few_seconds(tmp_path: Path) -> None:
    """Verification outlasting the confirm request (Wi-Fi re-associating): the laptop hears
    the phase every few seconds, not once."""
    box = StandInBox(tmp_path)
    real_runner = box._runner
    box.clock.on_sleep.remove(real_runner)

    def slow_runner(now: float) -> None:
        pending = box.store.pending_id()
        if pending is not None and now - box.store.load(pending).created < 30:
            return  # still verifying: the confirm flag is not looked at yet
        real_runner(now)

    box.clock.on_sleep.append(slow_runner)
    result, events = _run(box)
    assert result.outcome == Outcome.COMMITTED
    said = [m for p, m in events if p == "confirming"]
    assert len(said) >= 3, said


def test_a_silent_new_address_ticks_a_countdown_to_the_rollback_each_turn(
    tmp_path: Path,
) -> None:
    """The live countdown (issue 14 item 3): told at every turn of the wait, counting down to
    the rollback, then to the end of asking both addresses."""
    box = StandInBox(tmp_path)
    box.at_new = False
    ticks: list[tuple[str, float | None, Until]] = []
    _run(box, tick=lambda what, left, until: ticks.append((what, left, until)))
    following = [t for t in ticks if t[0] == f"waiting for {NEW} to answer"]
    assert len(following) > 20 and all(u is Until.ROLLBACK for _, _, u in following)
    lefts = [left for _, left, _ in following if left is not None]
    assert lefts == sorted(lefts, reverse=True) and lefts[0] <= 40 + 30 + 30
    asking = [t for t in ticks if t[0].startswith("asking")]
    assert all(u is Until.GIVING_UP for _, _, u in asking)


def test_a_journey_that_confirms_ticks_the_box_s_deadline(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    ticks: list[tuple[str, float | None, Until]] = []
    _run(box, tick=lambda what, left, until: ticks.append((what, left, until)))
    # The stand-in commits at once: whatever was ticked counts to the rollback.
    assert all(until is Until.ROLLBACK for _, _, until in ticks)


def test_confirming_while_the_box_verifies_counts_down_to_the_laptop_s_bound(
    tmp_path: Path,
) -> None:
    """The box sets its deadline only once it waits for confirmation; while it still verifies
    (the new address already answering), the countdown shows the laptop's bound instead of
    nothing (the lab's fast journeys showed no deadline at all)."""
    box = StandInBox(tmp_path)
    real_runner = box._runner
    box.clock.on_sleep.remove(real_runner)

    def slow_runner(now: float) -> None:
        pending = box.store.pending_id()
        if pending is not None and now - box.store.load(pending).created < 30:
            return
        real_runner(now)

    box.clock.on_sleep.append(slow_runner)
    ticks: list[tuple[str, float | None, Until]] = []
    result, _ = _run(box, tick=lambda what, left, until: ticks.append((what, left, until)))
    assert result.outcome == Outcome.COMMITTED
    early = [(w, left) for w, left, _ in ticks
             if w.startswith("confirming") and "(committ" not in w and "(finish" not in w]
    assert early and all(left is not None and 0 < left <= 40 + 30 + 30 for _, left in early)


class _Watch:
    def __init__(self, outage: float | None, silent_turns: int = 0) -> None:
        self.figure, self.stopped, self.started_for = outage, 0, ""
        self.silent_turns = silent_turns  # how often the new address is asked before it echoes

    def outage(self) -> float | None:
        return self.figure

    def new_answered(self) -> bool:
        self.silent_turns -= 1
        return self.silent_turns < 0

    def old_answering(self) -> bool | None:
        return None

    def stop(self) -> None:
        self.stopped += 1


def test_the_journey_reports_the_outage_its_watch_measured(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    watch = _Watch(0.42)

    def start(new: str) -> _Watch:
        watch.started_for = new
        assert box.store.pending_id() is None  # measuring from before the change starts
        return watch

    result, _ = _run(box, watch=start)
    assert result.outcome == Outcome.COMMITTED and result.outage_s == 0.42
    assert watch.started_for == NEW and watch.stopped == 1
    # No watch (a jump host, no ICMP): not measured, never guessed.
    assert _run(StandInBox(tmp_path / "b"), watch=lambda new: None)[0].outage_s is None


def test_a_rolled_back_change_stops_the_watch_and_reports_no_outage(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    box.at_new = False
    watch = _Watch(None)
    result, _ = _run(box, watch=lambda new: watch)
    assert result.outcome == Outcome.ROLLED_BACK and result.outage_s is None
    assert watch.stopped == 1


def test_with_echo_the_new_address_gets_ssh_only_once_it_answers(tmp_path: Path) -> None:
    """SSH at a silent address waits out its timeout: with the outage's echo running, the
    journey tries it when the address answers an echo (and every few seconds regardless)."""
    box = StandInBox(tmp_path)
    probes: list[str | None] = []
    real = box.probe

    def probe(address: str | None, timeout: int, *, keep: bool = False) -> Any:
        probes.append(address)
        return real(address, timeout, keep=keep)

    box.probe = probe  # type: ignore[method-assign]
    box.at_new = False
    t0 = box.clock.now()
    box.clock.on_sleep.append(lambda now: setattr(box, "at_new", now - t0 >= 2.0))

    class Echo(_Watch):
        def new_answered(self) -> bool:
            return box.at_new  # the address answers echo when it answers SSH

    result, _ = _run(box, watch=lambda new: Echo(0.1))
    assert result.outcome == Outcome.COMMITTED, result
    assert probes.count(NEW) == 2  # the first turn's, then the one after the echo


def test_a_new_address_that_never_echoes_is_still_tried_over_ssh(tmp_path: Path) -> None:
    box = StandInBox(tmp_path)
    watch = _Watch(None, silent_turns=10**6)  # ICMP filtered at the new address
    result, _ = _run(box, watch=lambda new: watch)
    assert result.outcome == Outcome.COMMITTED, result


def test_the_start_takes_the_plan_s_read_only_for_that_plan_and_only_while_fresh(
    tmp_path: Path,
) -> None:
    box = StandInBox(tmp_path)
    agent = Agent(box.env)
    data, psk = request_config(seed_config())
    planned = agent.handle(proto.PlanRequest(config=data, psk=psk, options=OPTS), _no_write)
    assert isinstance(planned, proto.PlanAnswer) and box.snapshots == 1
    # Only for the plan that read was for, and only once.
    assert agent._fresh("0" * 64) is None and agent._fresh(planned.fingerprint) is not None
    assert agent._fresh(planned.fingerprint) is None  # taken once
    agent.handle(proto.PlanRequest(config=data, psk=psk, options=OPTS), _no_write)
    box.clock.sleep(app.FRESH_READ_S + 0.1)  # a person read the plan: too old to stand in
    assert agent._fresh(planned.fingerprint) is None


def test_a_start_takes_the_plan_itself_only_for_the_config_it_was_made_for(
    tmp_path: Path,
) -> None:
    box = StandInBox(tmp_path)
    config = seed_config()
    planned = app.plan(box.env, config)
    assert app.plan(box.env, seed_config(), planned) is planned  # equal config: not planned again
    # Another config (here: an up-delay) is planned again, from the same read.
    other = app.plan(box.env, seed_config(**{"up-delay": 3000}), planned)
    assert other is not planned and other.snapshot is planned.snapshot and box.snapshots == 1
    assert other.fingerprint != planned.fingerprint


def _no_write(msg: proto.Message) -> None:
    raise AssertionError(f"no event expected: {msg}")
