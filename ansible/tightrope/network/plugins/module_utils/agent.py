# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The box side of the collection: speak to tightrope's zipapp and shape module results.

Everything tightrope knows (validating the desired state, the plan, the transaction engine
with its NetworkManager checkpoint) lives in the zipapp the action plugin put on the box.
This file only speaks the zipapp's JSON protocol, so there is one implementation of the
network logic, shared with the `tightrope` command and its `--host` mode.

Kept free of AnsibleModule so the unit tests call it with a fake runner and clock.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any

# The keys of tightrope's YAML config file, taken as module options verbatim.
CONFIG_KEYS = ("bond", "ports", "parameters", "ipv4", "ipv6", "mtu")
# Where a config file may name the PSK; a module takes it only through its no_log options.
PSK_KEYS = ("psk", "psk-file", "psk-env")
MIN_PYTHON = (3, 10)
DEFAULT_CACHE = "/var/cache/tightrope"
COMMITTED = "committed"
TERMINAL = ("committed", "rolled-back", "failed", "aborted")

# argv, stdin text -> (exit code, stdout, stderr); AnsibleModule.run_command in production.
Runner = Callable[[list[str], str], "tuple[int, str, str]"]


def module_runner(module: Any) -> Runner:
    """What every module checks before speaking to the zipapp, and its runner. `module` is
    the AnsibleModule, taken duck-typed so this file stays free of it."""
    if sys.version_info[:2] < MIN_PYTHON:
        module.fail_json(msg="tightrope needs Python 3.10+ on the box; found "
                         + ".".join(map(str, sys.version_info[:3])))  # fmt: skip
    if not module.params["pyz"]:
        module.fail_json(msg="pyz is unset: run this module through its action plugin")

    def run(argv: list[str], stdin: str) -> tuple[int, str, str]:
        # A list argv (no shell); the request, PSK included, goes on stdin only.
        rc, out, err = module.run_command(argv, data=stdin, binary_data=True)
        return rc, out, err

    return run


class AgentError(Exception):
    """The zipapp said no (or said nothing useful); `details` goes into the failed result."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


def last_json(text: str) -> dict[str, Any]:
    """The JSON document a tightrope command printed: one pretty-printed document, or the last
    of several (commands that stream events print one per event)."""
    text = text.strip()
    if not text:
        return {}
    try:
        whole = json.loads(text)
        return whole if isinstance(whole, dict) else {}
    except ValueError:
        pass
    # Several pretty-printed documents: take the last one that starts at a line's beginning.
    lines = text.splitlines()
    for start in range(len(lines) - 1, -1, -1):
        if lines[start].startswith("{"):
            try:
                doc = json.loads("\n".join(lines[start:]))
            except ValueError:
                continue
            if isinstance(doc, dict):
                return doc
    return {}


def error_details(doc: dict[str, Any], rc: int, stderr: str) -> AgentError:
    """tightrope's JSON error ({error, message, hint, exit_code, problems}) as an AgentError."""
    if "error" in doc:
        details = {k: doc[k] for k in ("error", "hint", "exit_code", "problems") if k in doc}
        return AgentError(str(doc.get("message") or doc["error"]), **details)
    tail = stderr.strip()[-2000:]
    return AgentError(
        f"tightrope on the box exited {rc} without a JSON answer" + (f": {tail}" if tail else ""),
        exit_code=rc,
    )


# -- bond: desired state -> request -----------------------------------------------------------


def desired_config(params: dict[str, Any]) -> dict[str, Any]:
    """The config data as in tightrope's YAML file, from the module's options."""
    config = {k: params[k] for k in CONFIG_KEYS if params.get(k) is not None}
    ports = config.get("ports")
    if not isinstance(ports, dict) or not ports:
        raise AgentError("ports: name the bond's ports, e.g. {eth0: {type: ethernet}, "
                         "wlan0: {type: wifi, ssid: HomeWiFi}}")  # fmt: skip
    for name, spec in ports.items():
        given = [k for k in PSK_KEYS if isinstance(spec, dict) and k in spec]
        if given:
            # A PSK inside `ports` would be logged with the task's arguments; psk-file and
            # psk-env would name files and variables of the box, not of the controller.
            raise AgentError(f"ports.{name}.{given[0]}: give the Wi-Fi PSK with the `psk` "
                             "(or `psks`) option, which is never logged")  # fmt: skip
    return config


def wifi_ports(config: dict[str, Any]) -> list[str]:
    return [name for name, spec in config["ports"].items()
            if isinstance(spec, dict) and spec.get("type") == "wifi"]  # fmt: skip


def psk_map(config: dict[str, Any], psk: str | None, psks: dict[str, Any] | None) -> dict[str, str]:
    """interface -> PSK for every Wi-Fi port; refuses a missing or unclaimed one."""
    wifi = wifi_ports(config)
    if psks:
        secrets = {str(k): str(v) for k, v in psks.items()}
    elif psk is not None:
        if len(wifi) != 1:
            raise AgentError(f"psk is for a single Wi-Fi port, but the bond has {len(wifi)}: "
                             "use psks: {interface: psk}")  # fmt: skip
        secrets = {wifi[0]: psk}
    else:
        secrets = {}
    missing = [w for w in wifi if w not in secrets]
    if missing:
        raise AgentError(f"no PSK for {', '.join(missing)}: set the `psk` option "
                         "(e.g. from Ansible Vault)")  # fmt: skip
    stray = sorted(set(secrets) - set(wifi))
    if stray:
        raise AgentError(f"psks names {', '.join(stray)}, which is not a Wi-Fi port of the bond")
    return secrets


def request(action: str, params: dict[str, Any]) -> dict[str, Any]:
    """The agent's request; the PSKs travel only in it, on the zipapp's stdin."""
    config = desired_config(params)
    return {
        "action": action,
        "config": config,
        "psk": psk_map(config, params.get("psk"), params.get("psks")),
        "options": {
            "confirm_timeout": int(params.get("confirm_timeout") or 120),
            "verify_timeout": int(params.get("verify_timeout") or 60),
            "auto_confirm": bool(params.get("auto_confirm")),
        },
    }


def call_agent(run: Runner, python: str, pyz: str, req: dict[str, Any]) -> dict[str, Any]:
    rc, out, err = run([python, pyz, "_agent"], json.dumps(req))
    doc = last_json(out)
    if rc != 0 or "error" in doc or "plan" not in doc:
        raise error_details(doc, rc, err)
    return doc


# -- bond: answer -> result -------------------------------------------------------------------

_SIGN = {"add": "+", "modify": "~", "retire": "-", "activate": ">"}


def diff_text(plan: dict[str, Any]) -> str:
    """The plan's changes as the text `--diff` shows (no secret is ever in a plan)."""
    lines = []
    for c in plan.get("changes", []):
        head = f"{_SIGN.get(c.get('action'), '?')} {c.get('action')} {c.get('profile')}"
        if c.get("interface"):
            head += f" ({c['interface']})"
        lines.append(head)
        lines += [f"    {d}" for d in c.get("details", [])]
    storage = plan.get("storage") or {}
    if lines and storage.get("summary"):
        lines.append(f"  storage: {storage['summary']}")
    for f in storage.get("files", []) if lines else []:
        detail = f": {f['detail']}" if f.get("detail") else ""
        lines.append(f"    {f.get('action', '')} {f.get('path', '')}{detail}")
    return "\n".join(lines) + ("\n" if lines else "")


def plan_result(answer: dict[str, Any]) -> dict[str, Any]:
    plan = answer["plan"]
    return {
        "changed": not plan.get("no_change", False),
        "host": answer.get("host"),
        "nm_version": answer.get("nm_version"),
        "reconnect_at": plan.get("reconnect_at"),
        "storage_world": (plan.get("storage") or {}).get("world"),
        "plan": plan,
    }


# Cautions meant for someone at a shell; a play follows the box itself (they stay in `plan`).
FOLLOWED_BY_THE_PLAY = ("ssh-cut",)


def plan_warnings(plan: dict[str, Any]) -> list[str]:
    return [f"{w.get('code')}: {w.get('message')}" for w in plan.get("warnings", [])
            if w.get("severity") != "info"
            and w.get("code") not in FOLLOWED_BY_THE_PLAY]  # fmt: skip


def started_result(
    answer: dict[str, Any], options: dict[str, Any], now: float | None = None
) -> dict[str, Any]:
    """What the play needs to follow the box: the transaction, where it will answer, and the
    latest moment NetworkManager rolls back by itself unless confirmed."""
    result = plan_result(answer)
    started = answer["started"]
    now = time.time() if now is None else now
    confirm_s = int(started.get("confirm_timeout_s") or options["confirm_timeout"])
    # The confirm window opens once the bond is verified, which takes up to verify_timeout.
    latest = now + int(options["verify_timeout"]) + confirm_s
    result.update(
        changed=True,
        txn=started["txn"],
        reconnect_at=started.get("reconnect_at") or result["reconnect_at"],
        confirm_timeout_s=confirm_s,
        verify_timeout_s=int(options["verify_timeout"]),
        started_at=now,
        rollback_deadline=latest,
        rollback_deadline_iso=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(latest)),
    )
    where = result["reconnect_at"] or "its new (DHCP) address"
    result["msg"] = (f"transaction {started['txn']} started; confirm from {where} within "
                     f"{int(latest - now)} s or the box rolls back")  # fmt: skip
    return result


# -- confirm: commit or report how a transaction ended -----------------------------------------


def txn_summary(state: dict[str, Any]) -> dict[str, Any]:
    steps = []
    for s in state.get("steps", []):
        line = f"{s.get('name')}: {s.get('status')}"
        steps.append(line + (f" ({s['detail']})" if s.get("detail") else ""))
    return {
        "txn": state.get("id") or state.get("txn"),
        "phase": state.get("phase"),
        "outcome": state.get("outcome"),
        "reason": state.get("reason") or "",
        "reconnect_at": state.get("reconnect_at"),
        "steps": steps,
    }


def read_txn(run: Runner, python: str, pyz: str, txn: str) -> dict[str, Any]:
    rc, out, err = run([python, pyz, "log", txn, "--json"], "")
    doc = last_json(out)
    if rc != 0 or "error" in doc or "phase" not in doc:
        raise error_details(doc, rc, err)
    return doc


def settle_txn(
    run: Runner,
    python: str,
    pyz: str,
    txn: str | None,
    *,
    commit: bool,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Commit the transaction (commit=True) or only wait for it to end (commit=False, e.g. after
    the play lost the box and found it again at its old address); returns a summary whose
    `changed` says whether this call committed it."""
    if txn:
        state = read_txn(run, python, pyz, txn)
        if state.get("phase") in TERMINAL:
            return {**txn_summary(state), "changed": False}
    elif not commit:
        raise AgentError("txn: name the transaction to report on (the bond task's `txn`)")
    if commit:
        argv = [python, pyz, "confirm", *([txn] if txn else []), "--json"]
        rc, out, err = run(argv, "")
        doc = last_json(out)
        if "outcome" in doc:
            txn = txn or doc.get("txn")
            state = read_txn(run, python, pyz, txn) if txn else doc
            summary = txn_summary({**state, "outcome": doc["outcome"],
                                   "reason": doc.get("reason") or state.get("reason")})  # fmt: skip
            return {**summary, "changed": doc["outcome"] == COMMITTED}
        if txn is None:
            raise error_details(doc, rc, err)
        # It ended between our look and the confirm (e.g. the window closed): say how.
    if txn is None:  # unreachable: every path above without a txn returned or raised
        raise AgentError("no transaction to wait for")
    until = clock() + timeout
    while True:
        state = read_txn(run, python, pyz, txn)
        if state.get("phase") in TERMINAL:
            return {**txn_summary(state), "changed": False}
        if clock() >= until:
            raise AgentError(f"transaction {txn} is still {state.get('phase')} after "
                             f"{timeout:.0f} s", **txn_summary(state))  # fmt: skip
        sleep(1.0)


def outcome_message(summary: dict[str, Any]) -> str:
    msg = f"transaction {summary.get('txn')}: {summary.get('outcome') or summary.get('phase')}"
    return msg + (f" ({summary['reason']})" if summary.get("reason") else "")


# -- facts ------------------------------------------------------------------------------------


def status_facts(run: Runner, python: str, pyz: str, bond: str | None) -> dict[str, Any]:
    rc, out, err = run([python, pyz, "status", "--json"], "")
    doc = last_json(out)
    if rc != 0 or "error" in doc or "bonds" not in doc:
        raise error_details(doc, rc, err)
    bonds = doc.get("bonds") or []
    chosen = [b for b in bonds if not bond or b.get("name") == bond]
    doc["bond"] = chosen[0] if chosen else None
    doc["active_port"] = chosen[0].get("active_port") if chosen else None
    return doc
