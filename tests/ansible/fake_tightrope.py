#!/usr/bin/env python3
"""A stand-in for tightrope's zipapp, speaking the agent protocol, for the collection's tests.

tests/ansible/test_collection.py zips it as __main__.py with the collection's copy of
tightrope.proto beside it, so it reads and writes exactly the lines the modules do, with the
same checks. Started as `python3 PYZ _agent`, it answers one line per request (events before a
confirm's answer) until stdin closes.

It keeps its "box" in fake-state.json beside itself (the copy the action plugin put in the
cache) and logs every argv to fake-argv.log, so a test can check the PSK never was in one.
A Wi-Fi PSK of "wrong-psk" makes the transaction roll back, as a real box does when wlan0
cannot associate; anything else commits once confirmed.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

try:
    import proto  # beside this file, in the stand-in zipapp
except ImportError:  # run from the source tree
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ansible" / "tightrope" /
                           "network" / "plugins" / "module_utils"))  # fmt: skip
    import proto

HERE = Path(sys.argv[0]).resolve().parent
STATE = HERE / "fake-state.json"
WRONG_PSK = "wrong-psk"
WRONG_PSK_REASON = "wlan0 did not associate with TightropeLab within 40 s (wrong PSK?)"


class Refused(Exception):
    def __init__(self, error: str, message: str, code: int) -> None:
        super().__init__(message)
        self.answer = proto.ErrorAnswer(error=error, message=message, exit_code=code)


def load() -> dict[str, Any]:
    if STATE.exists():
        state: dict[str, Any] = json.loads(STATE.read_text())
        return state
    return {"applied": None, "pending": None, "txns": {}, "requests": []}


def save(state: dict[str, Any]) -> None:
    STATE.write_text(json.dumps(state, indent=2))


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


def fingerprint(plan: dict[str, Any]) -> str:
    agreed = {k: plan[k] for k in ("bond", "changes", "storage", "reconnect_at")}
    return hashlib.sha256(json.dumps(agreed, sort_keys=True).encode()).hexdigest()[:24]


def view(t: dict[str, Any], **override: Any) -> proto.TxnView:
    t = {**t, **override}
    return proto.TxnView(
        id=t["id"], txn_kind="apply", phase=t["phase"], outcome=t["outcome"], reason=t["reason"],
        reconnect_at=t["reconnect_at"], created=t["created"],
        deadline_in_s=None if t["outcome"] else float(t["confirm_timeout_s"]),
        steps=tuple(proto.Step(**s) for s in t["steps"]),
    )  # fmt: skip


def checked_plan(
    state: dict[str, Any], req: proto.PlanRequest | proto.StartRequest
) -> dict[str, Any]:
    state["requests"].append(json.loads(proto.encode(req)))
    for name, spec in req.config["ports"].items():
        if any(k in spec for k in ("psk", "psk-file", "psk-env")):
            raise Refused("ConfigError", f"ports.{name}: a PSK source reached the box", 3)
        if spec.get("type") == "wifi" and name not in req.psk:
            raise Refused("ConfigError", f"ports.{name}: no PSK", 3)
    if state["pending"]:
        raise Refused("Busy", f"transaction {state['pending']} is still pending", 5)
    return plan_for(state, req.config)


def start(state: dict[str, Any], req: proto.StartRequest) -> proto.TxnView:
    plan = checked_plan(state, req)
    if fingerprint(plan) != req.fingerprint:
        raise Refused("PlanChanged", "the box changed since the plan you agreed to", 9)
    if plan["no_change"]:
        raise Refused("PlanChanged", "there is nothing to change: the bond is already in place", 9)
    txn = f"20260101-000000-{len(state['txns']) + 1:04x}"
    bad = WRONG_PSK in req.psk.values()
    t = {"id": txn, "reconnect_at": plan["reconnect_at"], "created": time.time(),
         "confirm_timeout_s": req.options.confirm_timeout, "config": req.config,
         "phase": "rolled-back" if bad else "awaiting-confirm",
         "outcome": "rolled-back" if bad else None,
         "reason": WRONG_PSK_REASON if bad else "",
         "steps": [{"name": "checkpoint", "status": "done", "at": 0.0, "detail": ""}]}  # fmt: skip
    state["txns"][txn] = t
    state["pending"] = None if bad else txn
    # Answered at once, as the box does: the rollback comes later.
    return view(t, phase="verifying", outcome=None, reason="")


def txn(state: dict[str, Any], req: proto.TxnRequest, write: Any) -> proto.TxnView:
    name = req.txn or state["pending"] or (sorted(state["txns"])[-1:] or [None])[0]
    if req.action in ("confirm", "abort") and req.txn is None:
        name = state["pending"]
    if name is None:
        raise Refused("TightropeError", "no transaction is pending", 1)
    if name not in state["txns"]:
        raise Refused("TightropeError", f"there is no transaction {name}", 1)
    t = state["txns"][name]
    if req.action in ("confirm", "abort") and not t["outcome"]:
        write(proto.Event(message=f"transaction {name}: {t['phase']}", txn=view(t)))
        if req.action == "confirm":
            t.update(phase="committed", outcome="committed")
            state["applied"] = t["config"]
        else:
            t.update(phase="aborted", outcome="aborted", reason="aborted")
        state["pending"] = None
    return view(t)


def status(state: dict[str, Any]) -> proto.StatusAnswer:
    bonds = [{"name": "bond0", "active_port": "eth0", "mode": "active-backup"}]
    return proto.StatusAnswer(status={
        "hostname": "fakebox", "nm_version": "1.42.4", "storage_world": "netplan",
        "bonds": bonds if state["applied"] else [], "devices": [], "checkpoints": 0,
        "pending": None})  # fmt: skip


def handle(state: dict[str, Any], req: proto.Message, write: Any) -> proto.Message:
    if isinstance(req, proto.Hello):
        return proto.HelloAnswer(version="fake", hostname="fakebox",
                                 python=".".join(map(str, sys.version_info[:3])))  # fmt: skip
    if isinstance(req, proto.PlanRequest):
        plan = checked_plan(state, req)
        return proto.PlanAnswer(host="fakebox", nm_version="1.42.4", plan=plan,
                                fingerprint=fingerprint(plan))  # fmt: skip
    if isinstance(req, proto.StartRequest):
        return start(state, req)
    if isinstance(req, proto.TxnRequest):
        return txn(state, req, write)
    if isinstance(req, proto.StatusRequest):
        return status(state)
    if isinstance(req, proto.HistoryRequest):
        return proto.HistoryAnswer(txns=tuple(view(t) for _, t in sorted(state["txns"].items())))
    raise Refused("ProtocolError", f"the fake does not serve {req.kind}", 4)


def agent() -> int:
    def write(message: proto.Message) -> None:
        sys.stdout.buffer.write(proto.encode(message))
        sys.stdout.buffer.flush()

    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        state = load()
        try:
            answer = handle(state, proto.decode(line), write)
        except proto.ProtocolError as exc:
            answer = proto.ErrorAnswer(error="ProtocolError", message=f"bad request: {exc}",
                                       exit_code=4)  # fmt: skip
        except Refused as exc:
            answer = exc.answer
        save(state)
        write(answer)
    return 0


def main() -> int:
    with (HERE / "fake-argv.log").open("a") as log:
        log.write(json.dumps(sys.argv) + "\n")
    if sys.argv[1:] == ["_agent"]:
        return agent()
    sys.stderr.write(f"fake tightrope: only `_agent` is served, not {sys.argv[1:]}\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
