# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The modules end to end on this machine, with a fake zipapp: a script that answers tightrope's
commands from a file and records each argv and stdin."""

from __future__ import annotations

import json
import sys

import pytest
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
FAKE = """
import json, pathlib, sys
here = pathlib.Path(__file__).parent
with open(here / "calls.jsonl", "a") as f:
    f.write(json.dumps({"argv": sys.argv[1:], "stdin": sys.stdin.read()}) + "\\n")
rc, out = json.loads((here / "answers.json").read_text())[sys.argv[1]]
print(json.dumps(out, indent=2))
sys.exit(rc)
"""
PLAN = {"bond": "bond0", "no_change": False, "reconnect_at": "198.18.1.64", "warnings": [],
        "storage": {"world": "keyfile", "summary": "keyfiles", "files": []},
        "changes": [{"action": "add", "profile": "bond0", "uuid": "u", "interface": "bond0",
                     "details": ["new"]}]}
ARGS = {"ports": {"eth0": {"type": "ethernet"}, "wlan0": {"type": "wifi", "ssid": "Lab"}},
        "ipv4": {"addresses": ["198.18.1.64/24"], "gateway": "198.18.1.1"}, "psk": PSK}


@pytest.fixture
def fake(tmp_path):
    (tmp_path / "fake.py").write_text(FAKE)

    def answer(**by_command):
        (tmp_path / "answers.json").write_text(json.dumps(by_command))
        return str(tmp_path / "fake.py")

    def calls():
        lines = (tmp_path / "calls.jsonl").read_text().splitlines()
        return [json.loads(line) for line in lines]

    answer.calls = calls
    return answer


def run(module, args, capsys):
    with patch_module_args(args), pytest.raises(SystemExit):
        module.main()
    return json.loads(capsys.readouterr().out)


def test_check_mode_plans_and_diff_shows_the_changes(fake, capsys):
    pyz = fake(_agent=[0, {"host": "box0", "nm_version": "1.42.4", "plan": PLAN}])
    result = run(bond, dict(ARGS, pyz=pyz, _ansible_check_mode=True, _ansible_diff=True), capsys)
    assert result["changed"] is True and "txn" not in result
    assert result["diff"] == {"prepared": "+ add bond0 (bond0)\n    new\n  storage: keyfiles\n"}
    (call,) = fake.calls()
    assert call["argv"] == ["_agent"]
    assert json.loads(call["stdin"])["action"] == "plan"
    assert json.loads(call["stdin"])["psk"] == {"wlan0": PSK}
    assert PSK not in json.dumps(result)


def test_present_starts_the_transaction_and_returns_at_once(fake, capsys):
    started = {"txn": "t1", "reconnect_at": "198.18.1.64", "confirm_timeout_s": 120}
    pyz = fake(_agent=[0, {"host": "box0", "plan": PLAN, "started": started}])
    result = run(bond, dict(ARGS, pyz=pyz), capsys)
    assert result["changed"] is True
    assert result["txn"] == "t1" and result["reconnect_at"] == "198.18.1.64"
    assert result["rollback_deadline"] - result["started_at"] == 60 + 120
    assert json.loads(fake.calls()[0]["stdin"])["action"] == "apply"
    assert result["invocation"]["module_args"]["psk"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_nothing_to_change_is_not_a_change(fake, capsys):
    pyz = fake(_agent=[0, {"host": "box0", "plan": dict(PLAN, changes=[], no_change=True)}])
    result = run(bond, dict(ARGS, pyz=pyz, _ansible_diff=True), capsys)
    assert result["changed"] is False and "diff" not in result and "txn" not in result


def test_the_boxs_refusal_fails_the_task_with_its_reason(fake, capsys):
    busy = {"error": "Busy", "message": "transaction t0 is still pending",
            "hint": "Confirm it or abort it.", "exit_code": 5}
    pyz = fake(_agent=[5, busy])
    result = run(bond, dict(ARGS, pyz=pyz), capsys)
    assert result["failed"] is True
    assert result["msg"] == "transaction t0 is still pending"
    assert result["hint"] == "Confirm it or abort it." and result["exit_code"] == 5


def test_without_the_action_plugin_there_is_no_zipapp(capsys):
    result = run(bond, dict(ARGS), capsys)
    assert result["failed"] is True and "action plugin" in result["msg"]


def test_confirm_commits_and_fails_when_rolled_back(fake, capsys):
    pyz = fake(log=[0, {"id": "t1", "phase": "awaiting-confirm", "steps": []}],
               confirm=[0, {"event": "outcome", "txn": "t1", "outcome": "committed"}])
    assert run(confirm, {"txn": "t1", "pyz": pyz}, capsys)["changed"] is True
    pyz = fake(log=[0, {"id": "t1", "phase": "rolled-back", "outcome": "rolled-back",
                        "reason": "wlan0 did not associate", "steps": []}])
    result = run(confirm, {"txn": "t1", "pyz": pyz, "commit": False}, capsys)
    assert result["failed"] is True
    assert result["outcome"] == "rolled-back" and result["reason"] == "wlan0 did not associate"


def test_confirm_in_check_mode_only_looks(fake, capsys):
    pyz = fake(log=[0, {"id": "t1", "phase": "awaiting-confirm", "steps": []}])
    result = run(confirm, {"txn": "t1", "pyz": pyz, "_ansible_check_mode": True}, capsys)
    assert result["changed"] is False and result["phase"] == "awaiting-confirm"
    assert [c["argv"][0] for c in fake.calls()] == ["log"]


def test_facts(fake, capsys):
    status = {"hostname": "box0", "storage_world": "netplan", "devices": [], "checkpoints": 0,
              "bonds": [{"name": "bond0", "active_port": "eth0"}]}
    result = run(facts, {"pyz": fake(status=[0, status])}, capsys)
    assert result["ansible_facts"]["tightrope"]["active_port"] == "eth0"
    assert result["ansible_facts"]["tightrope"]["storage_world"] == "netplan"


def test_the_module_runs_the_zipapp_with_its_own_python(fake, capsys):
    pyz = fake(_agent=[0, {"host": "box0", "plan": PLAN}])
    run(bond, dict(ARGS, pyz=pyz, _ansible_check_mode=True), capsys)
    assert sys.executable  # the same interpreter Ansible chose for the module on the box
