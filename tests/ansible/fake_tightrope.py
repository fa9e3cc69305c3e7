#!/usr/bin/env python3
"""A stand-in for tightrope's zipapp, speaking the same JSON, for the collection's tests.

It keeps its "box" in fake-state.json beside itself (the copy the action plugin put in the
cache) and logs every argv to fake-argv.log, so a test can check the PSK never was in one.
A Wi-Fi PSK of "wrong-psk" makes the transaction roll back, as a real box does when wlan0
cannot associate; anything else commits once confirmed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(sys.argv[0]).resolve().parent
STATE = HERE / "fake-state.json"
WRONG_PSK = "wrong-psk"
WRONG_PSK_REASON = "wlan0 did not associate with TightropeLab within 40 s (wrong PSK?)"


def load() -> dict[str, Any]:
    if STATE.exists():
        state: dict[str, Any] = json.loads(STATE.read_text())
        return state
    return {"applied": None, "pending": None, "txns": {}, "requests": []}


def save(state: dict[str, Any]) -> None:
    STATE.write_text(json.dumps(state, indent=2))


def emit(doc: dict[str, Any]) -> None:
    json.dump(doc, sys.stdout, indent=2)  # pretty-printed, as tightrope's --json is
    sys.stdout.write("\n")


def fail(error: str, message: str, code: int) -> int:
    emit({"error": error, "message": message, "hint": "", "exit_code": code})
    return code


def plan_for(state: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    same = state["applied"] == config
    address = (config.get("ipv4", {}).get("addresses") or [None])[0]
    changes = [] if same else [
        {"action": "add", "profile": config.get("bond", "bond0"), "uuid": "u-bond",
         "interface": config.get("bond", "bond0"), "details": [f"ipv4 {address}"]},
        {"action": "retire", "profile": "netplan-eth0", "uuid": "u-eth0", "interface": "eth0",
         "details": ["from /etc/netplan/50-cloud-init.yaml"]},
    ]  # fmt: skip
    return {
        "bond": config.get("bond", "bond0"),
        "no_change": same,
        "changes": changes,
        "warnings": [],
        "discovery": {},
        "reconnect_at": address.split("/")[0] if address else None,
        "storage": {"world": "netplan", "summary": "profiles as netplan YAML", "files": [],
                    "psk_in_yaml": False},
    }


def agent(state: dict[str, Any]) -> int:
    req = json.loads(sys.stdin.read())
    state["requests"].append(req)
    config = req["config"]
    for name, spec in config["ports"].items():
        if any(k in spec for k in ("psk", "psk-file", "psk-env")):
            return fail("ConfigError", f"ports.{name}: a PSK source reached the box", 3)
        if spec.get("type") == "wifi" and name not in req["psk"]:
            return fail("ConfigError", f"ports.{name}: no PSK", 3)
    if state["pending"]:
        return fail("Busy", f"transaction {state['pending']} is still pending", 5)
    plan = plan_for(state, config)
    answer: dict[str, Any] = {"host": "fakebox", "nm_version": "1.42.4", "plan": plan}
    if req["action"] == "apply" and not plan["no_change"]:
        txn = f"t{len(state['txns']) + 1}"
        bad = WRONG_PSK in req["psk"].values()
        state["txns"][txn] = {
            "id": txn, "kind": "apply", "reconnect_at": plan["reconnect_at"],
            "confirm_timeout_s": req["options"]["confirm_timeout"], "config": config,
            "phase": "rolled-back" if bad else "awaiting-confirm",
            "outcome": "rolled-back" if bad else None,
            "reason": WRONG_PSK_REASON if bad else "",
            "steps": [{"name": "checkpoint", "status": "done", "at": 0, "detail": ""}],
        }  # fmt: skip
        state["pending"] = None if bad else txn
        answer["started"] = {"txn": txn, "reconnect_at": plan["reconnect_at"],
                             "confirm_timeout_s": req["options"]["confirm_timeout"]}  # fmt: skip
    save(state)
    emit(answer)
    return 0


def confirm(state: dict[str, Any], args: list[str]) -> int:
    txn = next((a for a in args if not a.startswith("-")), None) or state["pending"]
    if txn is None:
        return fail("TightropeError", "no transaction is pending", 1)
    t = state["txns"][txn]
    if t["outcome"]:
        return fail("Busy", f"transaction {txn} already ended: {t['outcome']}", 5)
    t.update(phase="committed", outcome="committed")
    state["applied"], state["pending"] = t["config"], None
    save(state)
    emit({"event": "outcome", "txn": txn, "outcome": "committed", "reason": "",
          "reconnect_at": t["reconnect_at"]})  # fmt: skip
    return 0


def main() -> int:
    with (HERE / "fake-argv.log").open("a") as log:
        log.write(json.dumps(sys.argv) + "\n")
    state = load()
    command, args = sys.argv[1], sys.argv[2:]
    if command == "_agent":
        return agent(state)
    if command == "confirm":
        return confirm(state, args)
    if command == "log":
        t = {k: v for k, v in state["txns"][args[0]].items() if k != "config"}
        emit(t)
        return 0
    if command == "status":
        bonds = [{"name": "bond0", "active_port": "eth0", "mode": "active-backup"}]
        emit({"hostname": "fakebox", "nm_version": "1.42.4", "storage_world": "netplan",
              "bonds": bonds if state["applied"] else [], "devices": [],
              "checkpoints": 0, "pending": None})  # fmt: skip
        return 0
    return fail("UsageError", f"fake tightrope: no command {command}", 2)


if __name__ == "__main__":
    sys.exit(main())
