# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The modules end to end on this machine, with a fake zipapp: a script that speaks the agent
protocol, answers from a file and records each argv and request."""

from __future__ import annotations

import json
import os
import sys

import pytest
from ansible_collections.tightrope.network.plugins.module_utils import proto
from ansible_collections.tightrope.network.plugins.modules import bond, confirm, facts

try:
    from ansible.module_utils.testing import patch_module_args
except ImportError:  # ansible-core before 2.19
    import contextlib
    from unittest import mock

    from ansible.module_utils import basic
    from ansible.module_utils.common.text.converters import to_bytes

    @contextlib.contextmanager
    def patch_module_args(args=None):
        data = to_bytes(json.dumps({"ANSIBLE_MODULE_ARGS": args or {}}))
        with mock.patch.object(basic, "_ANSIBLE_ARGS", data):
            yield


PSK = "unit-test-psk-value"
T1 = "20261125-101500-ab12"
# The fake agent: decodes each request line with the collection's proto (the same checks the
# real agent makes), records them, and answers from answers.json, kind -> list of answer
# documents (taken in turn across runs, the last one repeats).
FAKE = """
import json, pathlib, sys
sys.path.insert(0, PROTO_DIR)
import proto
here = pathlib.Path(__file__).parent
answers = json.loads((here / "answers.json").read_text())
requests = [proto.decode(line) for line in sys.stdin.buffer.read().splitlines()]
with open(here / "calls.jsonl", "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "requests": [json.loads(proto.encode(r))
                                                          for r in requests]}) + "\\n")
for req in requests:
    if isinstance(req, proto.Hello):
        sys.stdout.buffer.write(proto.encode(proto.HelloAnswer(hostname="box0")))
        continue
    script = answers[req.action if isinstance(req, proto.TxnRequest) else req.kind]
    doc = script.pop(0) if len(script) > 1 else script[0]
    sys.stdout.buffer.write(proto.encode(proto.decode(json.dumps(dict(doc, v=proto.PROTOCOL)))))
(here / "answers.json").write_text(json.dumps(answers))
"""
PLAN = {"bond": "bond0", "no_change": False, "reconnect_at": "198.18.1.64", "warnings": [],
        "storage": {"world": "keyfile", "summary": "keyfiles", "files": []},
        "changes": [{"action": "add", "profile": "bond0", "uuid": "u", "interface": "bond0",
                     "details": ["new"]}]}
PLANNED = {"type": "plan-answer", "host": "box0", "nm_version": "1.42.4", "plan": PLAN,
           "fingerprint": "f0"}
ARGS = {"ports": {"eth0": {"type": "ethernet"}, "wlan0": {"type": "wifi", "ssid": "Lab"}},
        "ipv4": {"addresses": ["198.18.1.64/24"], "gateway": "198.18.1.1"}, "psk": PSK}


def txn(phase, outcome=None, reason=""):
    return {"type": "txn-answer", "id": T1, "phase": phase, "outcome": outcome,
            "reason": reason, "reconnect_at": "198.18.1.64", "steps": []}


@pytest.fixture
def fake(tmp_path):
    (tmp_path / "fake.py").write_text(FAKE.replace("PROTO_DIR", repr(os.path.dirname(
        proto.__file__))))  # fmt: skip

    def answer(**by_kind):
        (tmp_path / "answers.json").write_text(json.dumps(by_kind))
        return str(tmp_path / "fake.py")

    def calls():
        lines = (tmp_path / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    def asked():
        """The requests of each agent process, Hello left out."""
        return [[r for r in c["requests"] if r["type"] != "hello"] for c in calls()]

    answer.calls = calls
    answer.asked = asked
    return answer


def run(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_plans_and_diff_shows_the_changes(fake, capsys):
    pyz = fake(plan=[PLANNED])
    result = run(bond, dict(ARGS, pyz=pyz, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert result["changed"] is True and "txn" not in result
    assert result["diff"] == {"prepared": "+ add bond0 (bond0)\n    new\n  storage: keyfiles\n"}
    (call,) = fake.calls()
    assert call["argv"] == ["_agent"]
    assert [r["type"] for r in call["requests"]] == ["hello", "plan"]
    assert call["requests"][1]["psk"] == {"wlan0": PSK}
    assert PSK not in json.dumps(result)


def test_present_starts_the_plan_shown_and_returns_at_once(fake, capsys):
    pyz = fake(plan=[PLANNED], start=[txn("starting")])
    result = run(bond, dict(ARGS, pyz=pyz), capsys)
    assert result["changed"] is True
    assert result["txn"] == T1 and result["reconnect_at"] == "198.18.1.64"
    assert result["rollback_deadline"] - result["started_at"] == 60 + 120
    plan, start = fake.asked()  # two agent processes: the plan, then the start of that plan
    assert [r["type"] for r in plan + start] == ["plan", "start"]
    assert start[0]["fingerprint"] == "f0" and start[0]["psk"] == {"wlan0": PSK}
    assert start[0]["options"] == {"confirm_timeout": 120, "verify_timeout": 60,
                                   "auto_confirm": False, "verify_all_ports": False}
    assert result["invocation"]["module_args"]["psk"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_a_timeout_of_zero_is_refused_by_name_before_the_box_is_asked(fake, capsys):
    pyz = fake(plan=[PLANNED], start=[txn("starting")])
    result = run(bond, dict(ARGS, pyz=pyz, confirm_timeout=0), capsys)
    assert result["failed"] and "confirm_timeout must be between 15 and 3600" in result["msg"]
    assert result["exit_code"] == 2  # the box was never asked


def test_nothing_to_change_is_not_a_change(fake, capsys):
    pyz = fake(plan=[dict(PLANNED, plan=dict(PLAN, changes=[], no_change=True))])
    result = run(bond, dict(ARGS, pyz=pyz, _ansible_diff=True), capsys)
    assert result["changed"] is False and "diff" not in result and "txn" not in result
    assert [[r["type"] for r in reqs] for reqs in fake.asked()] == [["plan"]]


def test_the_boxs_refusal_fails_the_task_with_its_reason(fake, capsys):
    busy = {"type": "error", "error": "Busy", "message": "transaction t0 is still pending",
            "hint": "Confirm it or abort it.", "exit_code": 5}
    pyz = fake(plan=[busy])
    result = run(bond, dict(ARGS, pyz=pyz), capsys)
    assert result["failed"] is True
    assert result["msg"] == "transaction t0 is still pending"
    assert result["hint"] == "Confirm it or abort it." and result["exit_code"] == 5


def test_without_the_action_plugin_there_is_no_zipapp(capsys):
    result = run(bond, dict(ARGS), capsys)
    assert result["failed"] is True and "action plugin" in result["msg"]


def test_confirm_commits_and_fails_when_rolled_back(fake, capsys):
    pyz = fake(log=[txn("awaiting-confirm")], confirm=[txn("committed", "committed")])
    assert run(confirm, {"txn": T1, "pyz": pyz}, capsys)["changed"] is True
    assert [[r["action"] for r in reqs] for reqs in fake.asked()] == [["log", "confirm"]]
    pyz = fake(wait=[txn("rolled-back", "rolled-back", "wlan0 did not associate")])
    result = run(confirm, {"txn": T1, "pyz": pyz, "commit": False}, capsys)
    assert result["failed"] is True
    assert result["outcome"] == "rolled-back" and result["reason"] == "wlan0 did not associate"


def test_confirm_in_check_mode_only_looks(fake, capsys):
    pyz = fake(log=[txn("awaiting-confirm")])
    result = run(confirm, {"txn": T1, "pyz": pyz, "_ansible_check_mode": True}, capsys)
    assert result["changed"] is False and result["phase"] == "awaiting-confirm"
    assert [[r["action"] for r in reqs] for reqs in fake.asked()] == [["log"]]


def test_confirm_refuses_what_is_not_a_transaction_id(fake, capsys):
    pyz = fake()
    result = run(confirm, {"txn": "--help", "pyz": pyz}, capsys)
    assert result["failed"] is True and "is not a transaction id" in result["msg"]


def test_facts(fake, capsys):
    status = {"hostname": "box0", "storage_world": "netplan", "devices": [], "checkpoints": 0,
              "bonds": [{"name": "bond0", "active_port": "eth0"}]}
    result = run(facts, {"pyz": fake(status=[{"type": "status-answer", "status": status}])},
                 capsys)  # fmt: skip
    assert result["ansible_facts"]["tightrope"]["active_port"] == "eth0"
    assert result["ansible_facts"]["tightrope"]["storage_world"] == "netplan"
    assert [[r["type"] for r in reqs] for reqs in fake.asked()] == [["status"]]


def test_the_module_runs_the_zipapp_with_its_own_python(fake, capsys):
    pyz = fake(plan=[PLANNED])
    run(bond, dict(ARGS, pyz=pyz, _ansible_check_mode=True), capsys)
    assert sys.executable  # the same interpreter Ansible chose for the module on the box
