# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The JSON protocol with tightrope's zipapp: requests, answers, results, the confirm logic."""

from __future__ import annotations

import json

import pytest
from ansible_collections.tightrope.network.plugins.module_utils import agent

PSK = "unit-test-psk-value"
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


def params(**kw):
    base = {"bond": "bond0", "ports": PORTS, "parameters": None, "ipv4": IPV4, "ipv6": None,
            "mtu": None, "psk": PSK, "psks": None, "confirm_timeout": 30, "verify_timeout": 40,
            "auto_confirm": False}
    base.update(kw)
    return base


class FakeBox:
    """Answers tightrope commands from a script of (argv prefix -> (rc, stdout)) pairs."""

    def __init__(self, answers):
        self.answers = answers
        self.calls = []

    def __call__(self, argv, stdin):
        self.calls.append((argv, stdin))
        command = argv[2:]
        for prefix, answer in self.answers:
            if command[: len(prefix)] == list(prefix):
                rc, out = answer.pop(0) if isinstance(answer, list) else answer
                return rc, out if isinstance(out, str) else json.dumps(out, indent=2), ""
        raise AssertionError(f"unexpected command {command}")


def test_last_json_takes_the_last_pretty_printed_document():
    step, outcome = ({"event": e} for e in ("step", "outcome"))
    text = json.dumps(step, indent=2) + "\n" + json.dumps(outcome, indent=2)
    assert agent.last_json(text) == {"event": "outcome"}
    assert agent.last_json(json.dumps({"a": 1}, indent=2)) == {"a": 1}
    assert agent.last_json("Traceback (most recent call last):\n  boom") == {}
    assert agent.last_json("") == {}


def test_request_carries_the_config_verbatim_and_the_psk_apart():
    req = agent.request("apply", params(parameters={"mii-monitor-interval": 100}))
    assert req["config"] == {"bond": "bond0", "ports": PORTS, "ipv4": IPV4,
                             "parameters": {"mii-monitor-interval": 100}}
    assert req["psk"] == {"wlan0": PSK}
    assert PSK not in json.dumps(req["config"])
    assert req["options"] == {"confirm_timeout": 30, "verify_timeout": 40, "auto_confirm": False}


@pytest.mark.parametrize("key", ["psk", "psk-file", "psk-env"])
def test_a_psk_inside_ports_is_refused(key):
    ports = {"eth0": {"type": "ethernet"}, "wlan0": {"type": "wifi", "ssid": "X", key: "v"}}
    with pytest.raises(agent.AgentError, match=f"ports.wlan0.{key}"):
        agent.request("plan", params(ports=ports))


def test_psk_rules():
    with pytest.raises(agent.AgentError, match="no PSK for wlan0"):
        agent.request("plan", params(psk=None))
    two = dict(PORTS, wlan1={"type": "wifi", "ssid": "Y"})
    with pytest.raises(agent.AgentError, match="single Wi-Fi port"):
        agent.request("plan", params(ports=two))
    req = agent.request("plan", params(ports=two, psk=None, psks={"wlan0": "a", "wlan1": "b"}))
    assert req["psk"] == {"wlan0": "a", "wlan1": "b"}
    with pytest.raises(agent.AgentError, match="eth0, which is not a Wi-Fi port"):
        agent.request("plan", params(psk=None, psks={"wlan0": "a", "eth0": "b"}))
    wired = {"eth0": {"type": "ethernet"}, "eth1": {"type": "ethernet"}}
    assert agent.request("plan", params(ports=wired, psk=None))["psk"] == {}
    with pytest.raises(agent.AgentError, match="ports: name the bond's ports"):
        agent.request("plan", params(ports={}))


def test_call_agent_sends_the_request_on_stdin_only():
    box = FakeBox([(["_agent"], (0, {"host": "pi", "nm_version": "1.42", "plan": PLAN}))])
    answer = agent.call_agent(box, "/usr/bin/python3", "/c/t.pyz", agent.request("plan", params()))
    assert answer["host"] == "pi"
    (argv, stdin), = box.calls
    assert argv == ["/usr/bin/python3", "/c/t.pyz", "_agent"]
    assert PSK not in " ".join(argv)
    assert json.loads(stdin)["psk"] == {"wlan0": PSK}


def test_call_agent_turns_tightropes_error_into_an_agent_error():
    error = {"error": "ConfigError", "message": "ipv4.gateway: not in the subnet",
             "hint": "fix it", "exit_code": 3, "problems": [{"where": "ipv4.gateway"}]}
    box = FakeBox([(["_agent"], (3, error))])
    with pytest.raises(agent.AgentError) as info:
        agent.call_agent(box, "py", "t.pyz", agent.request("plan", params()))
    assert info.value.msg == "ipv4.gateway: not in the subnet"
    assert info.value.details == {"error": "ConfigError", "hint": "fix it", "exit_code": 3,
                                  "problems": [{"where": "ipv4.gateway"}]}
    crash = FakeBox([(["_agent"], (1, "Traceback: boom"))])
    with pytest.raises(agent.AgentError, match="exited 1 without a JSON answer"):
        agent.call_agent(crash, "py", "t.pyz", agent.request("plan", params()))


def test_plan_result_diff_and_warnings():
    result = agent.plan_result({"host": "pi", "nm_version": "1.42", "plan": PLAN})
    assert result["changed"] is True
    assert result["reconnect_at"] == "198.18.1.64"
    assert result["storage_world"] == "netplan"
    text = agent.diff_text(PLAN)
    assert text.splitlines()[:3] == ["+ add bond0 (bond0)", "    ipv4.addresses 198.18.1.64/24",
                                     "- retire netplan-eth0 (eth0)"]
    assert "    edit /etc/netplan/50-cloud-init.yaml: eth0 stanza removed" in text
    assert agent.diff_text(dict(PLAN, changes=[], no_change=True)) == ""
    assert agent.plan_warnings(PLAN) == ["gw: gateway silent"]
    unchanged = agent.plan_result({"plan": dict(PLAN, changes=[], no_change=True)})
    assert unchanged["changed"] is False


def test_started_result_gives_the_latest_rollback_deadline():
    answer = {"host": "pi", "plan": PLAN,
              "started": {"txn": "20261125-ab", "reconnect_at": "198.18.1.64",
                          "confirm_timeout_s": 30}}
    result = agent.started_result(answer, {"confirm_timeout": 30, "verify_timeout": 40},
                                  now=1000.0)
    assert result["txn"] == "20261125-ab"
    assert result["changed"] is True
    assert result["rollback_deadline"] == 1070.0
    assert result["rollback_deadline_iso"] == "1970-01-01T00:17:50Z"
    assert "confirm from 198.18.1.64 within 70 s" in result["msg"]


def state(phase, outcome=None, reason=""):
    return {"id": "t1", "phase": phase, "outcome": outcome, "reason": reason,
            "reconnect_at": "198.18.1.64",
            "steps": [{"name": "verify", "status": "rolled-back", "detail": reason, "at": 1}]}


def test_confirm_commits_a_pending_transaction():
    box = FakeBox([
        (["log"], [(0, state("awaiting-confirm")), (0, state("committed", "committed"))]),
        (["confirm"], (0, {"event": "outcome", "txn": "t1", "outcome": "committed",
                           "reason": ""})),
    ])
    summary = agent.settle_txn(box, "py", "t.pyz", "t1", commit=True, timeout=5)
    assert summary["outcome"] == "committed" and summary["changed"] is True
    assert ["py", "t.pyz", "confirm", "t1", "--json"] in [c[0] for c in box.calls]


def test_confirm_reports_a_transaction_that_already_ended():
    box = FakeBox([(["log"], (0, state("rolled-back", "rolled-back", "wlan0 never associated")))])
    summary = agent.settle_txn(box, "py", "t.pyz", "t1", commit=True, timeout=5)
    assert summary["outcome"] == "rolled-back"
    assert summary["reason"] == "wlan0 never associated"
    assert summary["changed"] is False
    assert summary["steps"] == ["verify: rolled-back (wlan0 never associated)"]
    assert "confirm" not in [c[0][2] for c in box.calls]
    assert agent.outcome_message(summary) == "transaction t1: rolled-back (wlan0 never associated)"


def test_confirm_that_loses_the_race_with_the_rollback_says_how_it_ended():
    busy = {"error": "Busy", "message": "transaction t1 already ended: rolled-back", "exit_code": 5}
    box = FakeBox([
        (["log"], [(0, state("awaiting-confirm")),
                   (0, state("rolled-back", "rolled-back", "confirm window closed"))]),
        (["confirm"], (5, busy)),
    ])
    summary = agent.settle_txn(box, "py", "t.pyz", "t1", commit=True, timeout=5,
                               sleep=lambda s: None)
    assert summary["outcome"] == "rolled-back" and summary["reason"] == "confirm window closed"


def test_report_only_waits_for_the_rollback_and_never_confirms():
    now = [0.0]
    box = FakeBox([(["log"], [(0, state("rolling-back")), (0, state("rolling-back")),
                              (0, state("rolled-back", "rolled-back", "no gateway"))])])
    summary = agent.settle_txn(box, "py", "t.pyz", "t1", commit=False, timeout=60,
                               clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert summary["outcome"] == "rolled-back"
    assert all(c[0][2] == "log" for c in box.calls)


def test_report_only_gives_up_after_its_timeout():
    now = [0.0]
    box = FakeBox([(["log"], (0, state("awaiting-confirm")))])
    with pytest.raises(agent.AgentError, match="still awaiting-confirm after 3 s"):
        agent.settle_txn(box, "py", "t.pyz", "t1", commit=False, timeout=3,
                         clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s))
    with pytest.raises(agent.AgentError, match="txn: name the transaction"):
        agent.settle_txn(box, "py", "t.pyz", None, commit=False, timeout=3)


def test_confirm_without_an_id_takes_the_pending_one():
    box = FakeBox([
        (["confirm"], (0, {"event": "outcome", "txn": "t9", "outcome": "committed"})),
        (["log"], (0, dict(state("committed", "committed"), id="t9"))),
    ])
    summary = agent.settle_txn(box, "py", "t.pyz", None, commit=True, timeout=5)
    assert summary["txn"] == "t9" and summary["changed"] is True
    nothing = FakeBox([(["confirm"], (1, {"error": "TightropeError",
                                          "message": "no transaction is pending"}))])
    with pytest.raises(agent.AgentError, match="no transaction is pending"):
        agent.settle_txn(nothing, "py", "t.pyz", None, commit=True, timeout=5)


def test_status_facts_picks_the_bond():
    status = {"hostname": "pi", "storage_world": "keyfile", "devices": [], "checkpoints": 0,
              "bonds": [{"name": "bond1", "active_port": "wlan0"},
                        {"name": "bond0", "active_port": "eth0"}]}
    box = FakeBox([(["status"], (0, status))])
    facts = agent.status_facts(box, "py", "t.pyz", "bond0")
    assert facts["bond"]["name"] == "bond0" and facts["active_port"] == "eth0"
    no_bond = FakeBox([(["status"], (0, dict(status, bonds=[])))])
    facts = agent.status_facts(no_bond, "py", "t", None)
    assert facts["bond"] is None and facts["active_port"] is None
