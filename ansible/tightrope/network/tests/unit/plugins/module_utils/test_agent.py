# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The agent protocol with tightrope's zipapp: requests, answers, results, the confirm logic."""

from __future__ import annotations

import json

import pytest
from ansible_collections.tightrope.network.plugins.module_utils import agent, proto

PSK = "unit-test-psk-value"
T1 = "20261125-101500-ab12"
T9 = "20261125-111500-cd34"
PORTS = {"eth0": {"type": "ethernet"}, "wlan0": {"type": "wifi", "ssid": "HomeWiFi"}}
IPV4 = {"addresses": ["198.18.1.64/24"], "gateway": "198.18.1.1"}
PLAN = {
    "bond": "bond0",
    "no_change": False,
    "changes": [
        {"action": "add", "profile": "bond0", "uuid": "u1", "interface": "bond0",
         "details": ["ipv4.addresses 198.18.1.64/24"]},
        {"action": "retire", "profile": "netplan-eth0", "uuid": "u2", "interface": "eth0",
         "details": []},
    ],
    "warnings": [{"code": "gw", "message": "gateway silent", "severity": "warning"},
                 {"code": "fyi", "message": "just so you know", "severity": "info"},
                 {"code": "ssh-cut", "message": "run tightrope confirm", "severity": "warning"}],
    "reconnect_at": "198.18.1.64",
    "storage": {"world": "netplan", "summary": "netplan YAML",
                "files": [{"path": "/etc/netplan/50-cloud-init.yaml", "action": "edit",
                           "detail": "eth0 stanza removed"}]},
}
PLANNED = proto.PlanAnswer(host="pi", nm_version="1.42", plan=PLAN, fingerprint="f" * 24)


def params(**kw):
    base = {"bond": "bond0", "ports": PORTS, "parameters": None, "ipv4": IPV4, "ipv6": None,
            "mtu": None, "psk": PSK, "psks": None, "confirm_timeout": 30, "verify_timeout": 40,
            "auto_confirm": False}
    base.update(kw)
    return base


class FakeBox:
    """A runner speaking the agent protocol: it decodes every request line (so a request the
    real agent would refuse fails the test) and answers each from a script, kind -> list of
    answers (the last one repeats); an answer is a proto message or raw bytes. Hello is
    answered by itself."""

    def __init__(self, rc=0, **answers):
        self.answers = answers
        self.rc = rc
        self.calls = []  # (argv, [decoded requests]) per agent process

    def __call__(self, argv, stdin):
        assert isinstance(stdin, bytes)
        requests = [proto.decode(line) for line in stdin.splitlines()]
        self.calls.append((argv, requests))
        out = b""
        for req in requests:
            if isinstance(req, proto.Hello):
                answer = proto.HelloAnswer(version="0.0", hostname="pi", python="3.11.2")
            else:
                key = req.action if isinstance(req, proto.TxnRequest) else req.kind
                script = self.answers[key]
                answer = script.pop(0) if len(script) > 1 else script[0]
            out += answer if isinstance(answer, bytes) else proto.encode(answer)
        return self.rc, out, b""

    def requests(self):
        return [[r for r in reqs if not isinstance(r, proto.Hello)] for _argv, reqs in self.calls]


def view(phase, outcome=None, reason="", txn=T1):
    return proto.TxnView(id=txn, phase=phase, outcome=outcome, reason=reason,
                         reconnect_at="198.18.1.64",
                         steps=(proto.Step(name="verify", status="rolled-back", detail=reason,
                                           at=1.0),))


def test_the_plan_request_carries_the_config_verbatim_and_the_psk_apart():
    req = agent.plan_request(params(parameters={"mii-monitor-interval": 100}))
    assert req.config == {"bond": "bond0", "ports": PORTS, "ipv4": IPV4,
                          "parameters": {"mii-monitor-interval": 100}}
    assert req.psk == {"wlan0": PSK}
    assert PSK not in json.dumps(req.config) and PSK not in repr(req)
    assert req.options == proto.Options(confirm_timeout=30, verify_timeout=40)
    start = agent.start_request(req, "f" * 24)
    assert start.psk == {"wlan0": PSK} and start.fingerprint == "f" * 24
    assert start.config == req.config and start.options == req.options


def test_timeouts_pass_as_given_and_default_only_when_unset():
    assert agent.options(params(confirm_timeout=15, verify_timeout=10)) == proto.Options(
        confirm_timeout=15, verify_timeout=10)
    with pytest.raises(agent.AgentError, match="confirm_timeout must be between 15 and 3600"):
        agent.options(params(confirm_timeout=0))
    assert agent.options(params(confirm_timeout=None, verify_timeout=None)) == proto.Options()
    assert agent.options(params(auto_confirm=True)).auto_confirm is True


@pytest.mark.parametrize("key", ["psk", "psk-file", "psk-env"])
def test_a_psk_inside_ports_is_refused(key):
    ports = {"eth0": {"type": "ethernet"}, "wlan0": {"type": "wifi", "ssid": "X", key: "v"}}
    with pytest.raises(agent.AgentError, match=f"ports.wlan0.{key}"):
        agent.plan_request(params(ports=ports))


def test_psk_rules():
    with pytest.raises(agent.AgentError, match="no PSK for wlan0"):
        agent.plan_request(params(psk=None))
    two = dict(PORTS, wlan1={"type": "wifi", "ssid": "Y"})
    with pytest.raises(agent.AgentError, match="single Wi-Fi port"):
        agent.plan_request(params(ports=two))
    req = agent.plan_request(params(ports=two, psk=None, psks={"wlan0": "a", "wlan1": "b"}))
    assert req.psk == {"wlan0": "a", "wlan1": "b"}
    with pytest.raises(agent.AgentError, match="eth0, which is not a Wi-Fi port"):
        agent.plan_request(params(psk=None, psks={"wlan0": "a", "eth0": "b"}))
    wired = {"eth0": {"type": "ethernet"}, "eth1": {"type": "ethernet"}}
    assert agent.plan_request(params(ports=wired, psk=None)).psk == {}
    with pytest.raises(agent.AgentError, match="ports: name the bond's ports"):
        agent.plan_request(params(ports={}))


def test_one_agent_process_hello_first_the_psk_on_stdin_only():
    box = FakeBox(plan=[PLANNED])
    answer = agent.ask_plan(box, "/usr/bin/python3", "/c/t.pyz", agent.plan_request(params()))
    assert answer.host == "pi" and answer.fingerprint == "f" * 24
    (argv, requests), = box.calls
    assert argv == ["/usr/bin/python3", "/c/t.pyz", "_agent"]
    assert PSK not in " ".join(argv)
    assert [r.kind for r in requests] == ["hello", "plan"]
    assert requests[1].psk == {"wlan0": PSK}


def test_start_sends_the_fingerprint_of_the_plan_shown():
    box = FakeBox(start=[view("starting")])
    req = agent.start_request(agent.plan_request(params()), "f" * 24)
    started = agent.ask_start(box, "py", "t.pyz", req)
    assert started.id == T1
    assert box.requests() == [[req]]


def test_the_boxs_refusal_becomes_an_agent_error():
    error = proto.ErrorAnswer(error="ConfigError", message="ipv4.gateway: not in the subnet",
                              hint="fix it", exit_code=3,
                              problems=({"field": "ipv4.gateway", "message": "m", "fix": "f"},))
    box = FakeBox(rc=0, plan=[error])
    with pytest.raises(agent.AgentError) as info:
        agent.ask_plan(box, "py", "t.pyz", agent.plan_request(params()))
    assert info.value.msg == "ipv4.gateway: not in the subnet"
    assert info.value.details == {
        "error": "ConfigError", "hint": "fix it", "exit_code": 3,
        "problems": [{"field": "ipv4.gateway", "message": "m", "fix": "f"}]}


@pytest.mark.parametrize("out, match", [
    (b"Traceback (most recent call last):\n  boom\n", "outside its protocol: not JSON"),
    (b'{"v":2,"type":"hello-answer"}\n', "outside its protocol: protocol version 2"),
    (b'{"v":1,"type":"status-answer","status":{}}\n', "expected hello-answer, event, got status"),
    (b'{"v":1,"type":"hello-answer","hostname":7}\n', "hostname: expected str, got int"),
    (b"", "exited 1 with no answer to hello: the box's stderr"),
])
def test_output_outside_the_protocol_is_never_trusted(out, match):
    def crash(argv, stdin):
        return 1, out, b"the box's stderr"

    with pytest.raises(agent.AgentError, match=match):
        agent.ask_plan(crash, "py", "t.pyz", agent.plan_request(params()))


def test_an_answer_missing_or_a_line_too_many_is_an_error():
    hello = proto.encode(proto.HelloAnswer())
    with pytest.raises(agent.AgentError, match="exited 0 with no answer to plan"):
        agent.ask_plan(lambda a, s: (0, hello, b""), "py", "t", agent.plan_request(params()))
    extra = hello + proto.encode(PLANNED) * 2
    with pytest.raises(agent.AgentError, match="1 line"):
        agent.ask_plan(lambda a, s: (0, extra, b""), "py", "t", agent.plan_request(params()))
    other = proto.encode(proto.HelloAnswer(protocol=2)) + proto.encode(PLANNED)
    with pytest.raises(agent.AgentError, match="speaks protocol 2"):
        agent.ask_plan(lambda a, s: (0, other, b""), "py", "t", agent.plan_request(params()))


def test_events_before_an_answer_are_collected():
    event = proto.Event(message="transaction: awaiting-confirm", txn=view("awaiting-confirm"))
    out = (proto.encode(proto.HelloAnswer()) + proto.encode(event)
           + proto.encode(view("committed", "committed")))  # fmt: skip
    talk = agent.Conversation(lambda a, s: (0, out, b""), "py", "t")
    answer = talk.call(proto.TxnRequest(action="confirm", txn=T1, wait_s=5), proto.TxnView)
    assert answer.outcome == "committed" and talk.events == [event]
    assert talk.hello == proto.HelloAnswer()


def test_a_request_the_box_would_refuse_is_refused_here():
    with pytest.raises(agent.AgentError, match="is not a transaction id"):
        agent.read_txn(FakeBox(), "py", "t", "t1; rm -rf /")


def test_plan_result_diff_and_warnings():
    result = agent.plan_result(PLANNED)
    assert result["changed"] is True
    assert result["reconnect_at"] == "198.18.1.64"
    assert result["storage_world"] == "netplan"
    assert result["host"] == "pi" and result["nm_version"] == "1.42"
    text = agent.diff_text(PLAN)
    assert text.splitlines()[:3] == ["+ add bond0 (bond0)", "    ipv4.addresses 198.18.1.64/24",
                                     "- retire netplan-eth0 (eth0)"]
    assert "    edit /etc/netplan/50-cloud-init.yaml: eth0 stanza removed" in text
    assert agent.diff_text(dict(PLAN, changes=[], no_change=True)) == ""
    assert agent.plan_warnings(PLAN) == ["gw: gateway silent"]
    unchanged = agent.plan_result(proto.PlanAnswer(plan=dict(PLAN, changes=[], no_change=True)))
    assert unchanged["changed"] is False


def test_started_result_gives_the_latest_rollback_deadline():
    started = view("starting")
    result = agent.started_result(PLANNED, started, proto.Options(confirm_timeout=30,
                                                                  verify_timeout=40), now=1000.0)
    assert result["txn"] == T1 and result["phase"] == "starting"
    assert result["changed"] is True
    assert result["confirm_timeout_s"] == 30 and result["verify_timeout_s"] == 40
    assert result["rollback_deadline"] == 1070.0
    assert result["rollback_deadline_iso"] == "1970-01-01T00:17:50Z"
    assert "confirm from 198.18.1.64 within 70 s" in result["msg"]


def test_confirm_commits_a_pending_transaction_in_one_agent_process():
    box = FakeBox(log=[view("awaiting-confirm")], confirm=[view("committed", "committed")])
    summary = agent.settle_txn(box, "py", "t.pyz", T1, commit=True, timeout=5)
    assert summary["outcome"] == "committed" and summary["changed"] is True
    assert box.requests() == [[proto.TxnRequest(action="log", txn=T1),
                               proto.TxnRequest(action="confirm", txn=T1, wait_s=5.0)]]


def test_confirm_reports_a_transaction_that_already_ended():
    ended = view("rolled-back", "rolled-back", "wlan0 never associated")
    box = FakeBox(log=[ended], confirm=[ended])
    summary = agent.settle_txn(box, "py", "t.pyz", T1, commit=True, timeout=5)
    assert summary["outcome"] == "rolled-back"
    assert summary["reason"] == "wlan0 never associated"
    assert summary["changed"] is False
    assert summary["steps"] == ["verify: rolled-back (wlan0 never associated)"]
    assert agent.outcome_message(summary) == (f"transaction {T1}: rolled-back "
                                              "(wlan0 never associated)")  # fmt: skip
    # A transaction committed before (a re-run) is no change of this task.
    box = FakeBox(log=[view("committed", "committed")], confirm=[view("committed", "committed")])
    assert agent.settle_txn(box, "py", "t", T1, commit=True, timeout=5)["changed"] is False


def test_confirm_that_loses_the_race_with_the_rollback_says_how_it_ended():
    busy = proto.ErrorAnswer(error="Busy", message="transaction already ended", exit_code=5)
    box = FakeBox(log=[view("awaiting-confirm")], confirm=[busy],
                  wait=[view("rolled-back", "rolled-back", "confirm window closed")])
    summary = agent.settle_txn(box, "py", "t.pyz", T1, commit=True, timeout=5,
                               sleep=lambda s: None)
    assert summary["outcome"] == "rolled-back" and summary["reason"] == "confirm window closed"
    assert summary["changed"] is False


def test_confirm_waits_on_when_the_box_stopped_waiting_first():
    now = [0.0]
    box = FakeBox(log=[view("verifying")], confirm=[view("verifying")],
                  wait=[view("awaiting-confirm"), view("committed", "committed")])
    summary = agent.settle_txn(box, "py", "t", T1, commit=True, timeout=900,
                               clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert summary["outcome"] == "committed"
    assert box.requests()[0][1].wait_s == 600.0  # the protocol's longest wait


def test_report_only_waits_for_the_rollback_and_never_confirms():
    now = [0.0]
    box = FakeBox(wait=[view("rolling-back"), view("rolled-back", "rolled-back", "no gateway")])
    summary = agent.settle_txn(box, "py", "t.pyz", T1, commit=False, timeout=60,
                               clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert summary["outcome"] == "rolled-back" and summary["changed"] is False
    asked = [r for reqs in box.requests() for r in reqs]
    # The box waits (read-only) instead of being polled: one process per answer it gives.
    assert asked == [proto.TxnRequest(action="wait", txn=T1, wait_s=60.0),
                     proto.TxnRequest(action="wait", txn=T1, wait_s=59.0)]


def test_report_only_gives_up_after_its_timeout():
    now = [0.0]
    box = FakeBox(wait=[view("awaiting-confirm")])
    with pytest.raises(agent.AgentError, match="still awaiting-confirm after 3 s") as info:
        agent.settle_txn(box, "py", "t.pyz", T1, commit=False, timeout=3,
                         clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert info.value.details["phase"] == "awaiting-confirm"
    with pytest.raises(agent.AgentError, match="txn: name the transaction"):
        agent.settle_txn(box, "py", "t.pyz", None, commit=False, timeout=3)


def test_confirm_without_an_id_takes_the_pending_one():
    box = FakeBox(confirm=[view("committed", "committed", txn=T9)])
    summary = agent.settle_txn(box, "py", "t.pyz", None, commit=True, timeout=5)
    assert summary["txn"] == T9 and summary["changed"] is True
    assert box.requests() == [[proto.TxnRequest(action="confirm", txn=None, wait_s=5.0)]]
    nothing = FakeBox(confirm=[proto.ErrorAnswer(error="TightropeError",
                                                 message="no transaction is pending")])
    with pytest.raises(agent.AgentError, match="no transaction is pending"):
        agent.settle_txn(nothing, "py", "t.pyz", None, commit=True, timeout=5)


def test_read_txn_only_reads_the_log():
    box = FakeBox(log=[view("awaiting-confirm")])
    assert agent.read_txn(box, "py", "t", T1).phase == "awaiting-confirm"
    assert box.requests() == [[proto.TxnRequest(action="log", txn=T1)]]


def test_status_facts_picks_the_bond():
    status = {"hostname": "pi", "storage_world": "keyfile", "devices": [], "checkpoints": 0,
              "bonds": [{"name": "bond1", "active_port": "wlan0"},
                        {"name": "bond0", "active_port": "eth0"}]}
    box = FakeBox(status=[proto.StatusAnswer(status=status)])
    facts = agent.status_facts(box, "py", "t.pyz", "bond0")
    assert facts["bond"]["name"] == "bond0" and facts["active_port"] == "eth0"
    no_bond = FakeBox(status=[proto.StatusAnswer(status=dict(status, bonds=[]))])
    facts = agent.status_facts(no_bond, "py", "t", None)
    assert facts["bond"] is None and facts["active_port"] is None
    odd = FakeBox(status=[proto.StatusAnswer(status={"bonds": "bond0"})])
    with pytest.raises(agent.AgentError, match="without a list of bonds"):
        agent.status_facts(odd, "py", "t", None)
