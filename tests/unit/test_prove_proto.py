"""drill and watch behind the agent protocol: the messages (round trip, refusals) and the real
agent serving them against stand-ins for the box (no ping, no port down, nothing patched)."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.unit.fakebox import FakeClock
from tests.unit.test_drill import bonded, result
from tests.unit.test_journey import LoopChannel
from tightrope import proto
from tightrope.box import app
from tightrope.box.agent import Agent, serve
from tightrope.box.env import BoxEnv
from tightrope.cli.main import main
from tightrope.cli.remote_cli import _watch_one, drill_result
from tightrope.core.drill import DrillPlan, DrillResult, result_to_dict
from tightrope.core.snapshot import Snapshot
from tightrope.errors import Exit, NotRoot, TightropeError
from tightrope.remote.sshfail import SshFailure
from tightrope.txn.state import Store

REQ = proto.DrillRequest, proto.WatchRequest
ANS = proto.DrillAnswer, proto.WatchAnswer, proto.Event


def roundtrip(message: proto.Message) -> proto.Message:
    return proto.decode(proto.encode(message), type(message))


def line(kind: str, **fields: Any) -> bytes:
    return json.dumps({"v": proto.PROTOCOL, "type": kind, **fields}).encode()


# -- the messages -----------------------------------------------------------------------------


def test_new_messages_survive_the_wire() -> None:
    ev = proto.WatchEvent(source="bond", subject="eth0", what="link down in bond0",
                          at=1_764_064_001.123)  # fmt: skip
    for message in (
        proto.DrillRequest(), proto.DrillRequest(bond="bond0", target="198.18.1.1",
                                                 seconds=4.5, interval_ms=1),
        proto.DrillRequest(target="fe80::1"), proto.WatchRequest(seconds=0.5),
        proto.WatchRequest(seconds=proto.WatchRequest.MAX_SECONDS),
        proto.DrillAnswer(result=result_to_dict(result())), proto.WatchAnswer(events=3),
        proto.Event(message="bond eth0: link down in bond0", watch=ev),
    ):  # fmt: skip
        assert roundtrip(message) == message


def test_an_event_without_a_watch_is_written_as_before() -> None:
    # Peers that predate Event.watch refuse unknown fields: unset, it must not be sent.
    assert b"watch" not in proto.encode(proto.Event(message="transaction x: verifying"))
    assert proto.decode(line("event", message="m"), proto.Event) == proto.Event(message="m")


@pytest.mark.parametrize("fields", [
    {"seconds": 0}, {"seconds": -1}, {"seconds": 301}, {"interval_ms": 0},
    {"interval_ms": -10}, {"interval_ms": 1001}, {"interval_ms": 2.5}, {"interval_ms": True},
    {"seconds": "10"}, {"target": "gateway.lan"}, {"target": "-oProxyCommand=sh"},
    {"target": "198.18.1.1; reboot"}, {"bond": "../../etc"}, {"bond": "bond 0"},
    {"bond": "a-name-too-long-for-linux"}, {"bond": ""}, {"bond": 0}, {"extra": 1},
])  # fmt: skip
def test_a_drill_request_out_of_bounds_is_refused(fields: dict[str, Any]) -> None:
    with pytest.raises(proto.ProtocolError):
        proto.decode(line("drill", **fields), *REQ)


@pytest.mark.parametrize("raw", [
    b'{"v":1,"type":"drill","seconds":NaN}', b'{"v":1,"type":"drill","seconds":Infinity}',
    b'{"v":1,"type":"watch","seconds":NaN}', b'{"v":1,"type":"watch","seconds":-Infinity}',
    b'{"v":1,"type":"watch","seconds":0}', b'{"v":1,"type":"watch","seconds":-5}',
    b'{"v":1,"type":"watch","seconds":86401}', b'{"v":1,"type":"watch","seconds":10,"x":1}',
    b'{"v":1,"type":"watch"}\n{"v":1,"type":"watch"}',
])  # fmt: skip
def test_nan_infinity_and_unbounded_watches_are_refused(raw: bytes) -> None:
    with pytest.raises(proto.ProtocolError):
        proto.decode(raw, *REQ)


def test_a_request_built_in_python_is_checked_too() -> None:
    for bad in (proto.DrillRequest(seconds=float("nan")), proto.DrillRequest(interval_ms=0),
                proto.DrillRequest(target="box.lan"), proto.DrillRequest(fault="cable"),
                proto.WatchRequest(seconds=-1.0)):  # fmt: skip
        with pytest.raises(proto.ProtocolError):
            bad.check()
    with pytest.raises(ValueError):  # and none of them is ever written as NaN
        proto.encode(proto.WatchRequest(seconds=float("nan")))


@pytest.mark.parametrize("watch", [
    {"source": "bond", "subject": "eth0", "what": "x", "at": 5, "extra": 1},
    {"source": "shell", "subject": "eth0", "what": "x", "at": 5},
    {"source": "bond", "subject": "eth0", "what": "x", "at": -1},
    {"source": "bond", "subject": ["eth0"], "what": "x", "at": 5},
])  # fmt: skip
def test_what_an_event_carries_is_checked(watch: dict[str, Any]) -> None:
    with pytest.raises(proto.ProtocolError):
        proto.decode(line("event", message="", watch=watch), *ANS)
    bad_txn = {"id": "../../etc", "phase": "verifying"}
    with pytest.raises(proto.ProtocolError):
        proto.decode(line("event", message="", txn=bad_txn), *ANS)


def test_the_laptop_reads_back_only_a_faithful_drill_document() -> None:
    doc = result_to_dict(result())
    assert drill_result("box", proto.DrillAnswer(result=doc)) == result()
    for tamper in ({"backups": "wlan0"}, {"down_at": "1000.011"}, {"bond": ["bond0"]},
                   {"probes": [[1, 2]]}, {"failover_ms": 0.0},
                   {"events": [[1.0, {"x": 1}]]}):  # fmt: skip
        with pytest.raises(TightropeError, match="outside tightrope's protocol"):
            drill_result("box", proto.DrillAnswer(result={**doc, **tamper}))
    with pytest.raises(TightropeError, match="outside tightrope's protocol"):
        drill_result("box", proto.DrillAnswer(result={k: v for k, v in doc.items()
                                                      if k != "probes"}))  # fmt: skip


# -- the agent, against stand-ins -------------------------------------------------------------


class ScriptedEvents:
    """The box's live events as a script on the fake clock: (seconds after start, event)."""

    def __init__(self, clock: FakeClock, script: list[tuple[float, proto.WatchEvent]]) -> None:
        self.clock, self.t0, self.script = clock, clock.mono(), list(script)
        self.stopped = False

    def get(self, timeout: float) -> proto.WatchEvent | None:
        if self.script and self.t0 + self.script[0][0] <= self.clock.mono() + timeout:
            after, ev = self.script.pop(0)
            self.clock.sleep(max(0.0, self.t0 + after - self.clock.mono()))
            return ev
        self.clock.sleep(timeout)
        return None

    def stop(self) -> None:
        self.stopped = True


class StandIn:
    """The box for drill and watch: a snapshot, a drill that records what it was asked, a
    scripted event source; root or not."""

    def __init__(self, tmp: Path, snapshot: Snapshot | None = None, root: bool = True) -> None:
        self.clock = FakeClock()
        self.snapshot = snapshot or bonded()
        self.root = root
        self.drills: list[tuple[DrillPlan, float, int]] = []
        self.sources: list[ScriptedEvents] = []
        self.script: list[tuple[float, proto.WatchEvent]] = []
        self.env = BoxEnv(store=Store(tmp), clock=self.clock, boot_id=lambda: "boot-1",
                          read_snapshot=lambda secrets: self.snapshot,
                          launch=lambda txn, secrets: None, require_root=self._require_root,
                          is_root=lambda: self.root, drill=self._drill,
                          watch=self._watch)  # fmt: skip

    def _require_root(self) -> None:
        if not self.root:
            raise NotRoot("changing the network needs root on the box")

    def _drill(self, plan: DrillPlan, seconds: float, interval_ms: int) -> DrillResult:
        self.drills.append((plan, seconds, interval_ms))
        return dataclasses.replace(result(), plan=plan, interval_ms=float(interval_ms))

    def _watch(self) -> ScriptedEvents:
        self.sources.append(ScriptedEvents(self.clock, self.script))
        return self.sources[-1]


def ev(what: str, subject: str = "eth0", source: str = "bond") -> proto.WatchEvent:
    return proto.WatchEvent(source=source, subject=subject, what=what, at=1_764_064_000.5)


def test_the_agent_drills_what_it_was_asked_and_answers_the_result(tmp_path: Path) -> None:
    box = StandIn(tmp_path)
    channel = LoopChannel(Agent(box.env))
    answer = channel.call(proto.DrillRequest(seconds=4, interval_ms=20), proto.DrillAnswer)
    got = drill_result("box", answer)
    (plan, seconds, interval), = box.drills
    assert (plan.bond, plan.port, plan.backups, plan.target) == (
        "bond0", "eth0", ("wlan0",), "198.18.1.1")
    assert (seconds, interval) == (4.0, 20)
    assert got.plan == plan and got.interval_ms == 20.0


def test_a_drill_that_would_cut_the_box_off_is_refused_before_anything_moves(
    tmp_path: Path,
) -> None:
    box = StandIn(tmp_path, bonded(wlan_state="disconnected"))
    channel = LoopChannel(Agent(box.env))
    with pytest.raises(TightropeError, match="drill refused: no backup port") as err:
        channel.call(proto.DrillRequest(seconds=4), proto.DrillAnswer)
    assert err.value.hint == "Fix the backup port first; `tightrope status` shows it."
    assert box.drills == []


def test_a_drill_needs_root_and_the_box_s_word_on_its_bond(tmp_path: Path) -> None:
    box = StandIn(tmp_path, root=False)
    with pytest.raises(TightropeError) as err:
        LoopChannel(Agent(box.env)).call(proto.DrillRequest(), proto.DrillAnswer)
    assert err.value.exit_code == Exit.NOT_ROOT
    box.root = True
    with pytest.raises(TightropeError, match="no bond to drill named bond7"):
        LoopChannel(Agent(box.env)).call(proto.DrillRequest(bond="bond7"), proto.DrillAnswer)
    with pytest.raises(proto.ProtocolError):  # the application layer checks whoever calls it
        app.drill(box.env, proto.DrillRequest(interval_ms=0))
    assert box.drills == []


def test_a_watch_tells_events_until_its_seconds_end(tmp_path: Path) -> None:
    box = StandIn(tmp_path)
    box.script = [(1.0, ev("link down in bond0")), (2.5, ev("active port eth0 -> wlan0",
                  subject="bond0")), (9.0, ev("too late"))]  # fmt: skip
    told: list[proto.Event] = []
    answer = LoopChannel(Agent(box.env)).call(proto.WatchRequest(seconds=5), proto.WatchAnswer,
                                              on_event=told.append)  # fmt: skip
    assert [e.watch.what for e in told if e.watch] == ["link down in bond0",
                                                       "active port eth0 -> wlan0"]
    assert told[0].message == "bond eth0: link down in bond0"
    assert answer.events == 2
    assert box.sources[0].stopped and box.clock.mono() - box.sources[0].t0 == pytest.approx(5)


def test_a_watch_ends_when_the_laptop_speaks(tmp_path: Path) -> None:
    box = StandIn(tmp_path)
    box.script = [(i / 10, ev(f"event {i}")) for i in range(1, 50)]
    asked = iter([False, False, False, True])
    agent = Agent(box.env, laptop_spoke=lambda: next(asked))
    answer = LoopChannel(agent).call(proto.WatchRequest(seconds=3600), proto.WatchAnswer)
    assert answer.events == 3 and box.sources[0].stopped


def _serve(box: StandIn, requests: list[proto.Message], close_output: bool = False,
           ) -> tuple[int, list[proto.Message]]:  # fmt: skip
    """serve() on real pipes, the laptop having written `requests` and closed its end."""
    in_r, in_w = os.pipe()
    out_r, out_w = os.pipe()
    os.write(in_w, b"".join(proto.encode(m) for m in requests))
    os.close(in_w)
    if close_output:
        os.close(out_r)
    with open(in_r, "rb") as stdin, open(out_w, "wb") as stdout:
        code = serve(box.env, stdin, stdout)
    if close_output:
        return code, []
    with open(out_r, "rb") as lines:
        return code, [proto.decode(ln, *ANS, proto.HelloAnswer) for ln in lines]


def test_a_laptop_that_closed_the_session_ends_the_watch(tmp_path: Path) -> None:
    box = StandIn(tmp_path)
    box.script = [(float(i), ev(f"event {i}")) for i in range(1, 100_000)]
    code, answers = _serve(box, [proto.Hello(), proto.WatchRequest(seconds=86400)])
    assert code == Exit.OK
    assert isinstance(answers[-1], proto.WatchAnswer) and answers[-1].events < 5
    assert box.sources[0].stopped


def test_a_laptop_gone_mid_watch_ends_the_agent_quietly(tmp_path: Path) -> None:
    box = StandIn(tmp_path)
    box.script = [(1.0, ev("link down in bond0"))]
    code, _ = _serve(box, [proto.WatchRequest(seconds=5)], close_output=True)
    assert code == Exit.OK and box.sources[0].stopped


class StandInReach:
    """The box as `watch --host` reaches it: one in-process agent per session opened."""

    name = "root@198.18.1.64"

    def __init__(self, box: StandIn) -> None:
        self.box = box
        self.channels: list[LoopChannel] = []

    def open(self, address: str | None) -> LoopChannel:
        self.channels.append(LoopChannel(Agent(self.box.env)))
        return self.channels[-1]


def test_watch_from_the_laptop_hands_on_each_event_and_closes_the_session(
    tmp_path: Path,
) -> None:
    box = StandIn(tmp_path)
    box.script = [(1.0, ev("link down in bond0")), (6.0, ev("link up in bond0"))]
    reach = StandInReach(box)
    seen: list[tuple[str, str]] = []
    _watch_one(reach, 7.5, lambda host, e: seen.append((host, e.what)))
    assert seen == [(reach.name, "link down in bond0"), (reach.name, "link up in bond0")]
    assert [c.closed for c in reach.channels] == [True]
    assert box.clock.mono() - box.sources[0].t0 == pytest.approx(7.5)


# -- the laptop's command line ------------------------------------------------------------------


@pytest.mark.parametrize("argv", [
    ["drill", "--interval-ms", "0"], ["drill", "--seconds", "nan"], ["drill", "--seconds", "-1"],
    ["drill", "--target", "gateway.lan"], ["watch", "--seconds", "-3"],
    ["drill", "--picture", "timeline.doc"],
])  # fmt: skip
def test_bad_drill_and_watch_options_are_refused_before_any_box_is_reached(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # No box is at that (test-range) address: reaching for it would fail differently, later.
    code = main([*argv, "--host", "root@198.18.0.254"])
    assert code == Exit.USAGE, capsys.readouterr().err


def test_watch_json_lines_and_a_human_line(capsys: pytest.CaptureFixture[str]) -> None:
    from tightrope.cli.cmd_prove import watch_line

    watch_line(ev("link down in bond0"), True)
    watch_line(ev("link down in bond0"), True, host="root@198.18.1.64")
    watch_line(ev("[red]link[/] \x1b[2J"), False)
    first, second, human = capsys.readouterr().out.splitlines()
    assert json.loads(first) == {"at": 1764064000.5, "source": "bond", "subject": "eth0",
                                 "what": "link down in bond0"}
    assert json.loads(second)["host"] == "root@198.18.1.64"
    # The markup shows as text; the screen clear goes whole, not leaving "[2J" behind.
    assert human.rstrip().endswith("eth0 [red]link[/]") and "2J" not in human


class DroppingReach(StandInReach):
    """Its first session drops (the change being watched moved the network under it)."""

    def open(self, address: str | None) -> LoopChannel:
        channel = super().open(address)
        if len(self.channels) == 1:
            def lost(*args: Any, **kw: Any) -> Any:
                raise SshFailure("cannot reach root@198.18.1.64 over SSH", "",
                                 Exit.NM_UNREACHABLE, "no answer")  # fmt: skip

            channel.call = lost  # type: ignore[method-assign]
        return channel


def test_a_watch_whose_session_drops_opens_another(tmp_path: Path) -> None:
    box = StandIn(tmp_path)
    box.script = [(1.0, ev("link up in bond0"))]
    reach = DroppingReach(box)
    seen: list[str] = []
    _watch_one(reach, 30, lambda host, e: seen.append(e.what), clock=box.clock.mono,
               sleep=box.clock.sleep)  # fmt: skip
    assert len(reach.channels) == 2 and all(c.closed for c in reach.channels)
    assert seen[0].startswith("session lost (cannot reach") and "reconnecting" in seen[0]
    assert "link up in bond0" in seen
