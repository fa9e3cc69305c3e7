"""The laptop side of a remote apply: plan there, start it detached, follow the box to its
new address, confirm from there; or, if it never answers, wait for its own rollback and say
why it failed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tightrope.core.configdump import config_to_data
from tightrope.core.model import BondConfig
from tightrope.errors import TightropeError
from tightrope.remote.ssh import SSH_FAILED, RemoteError, Ssh

Emit = Callable[[str, str], None]  # (phase, message)


@dataclass(frozen=True)
class JourneyResult:
    host: str
    old_address: str
    new_address: str | None
    outcome: str  # committed, rolled-back, no-change, declined, failed, unknown
    reason: str = ""
    txn: str | None = None
    outage_s: float | None = None  # old address silent -> new address answering
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def request_for(config: BondConfig, action: str, options: dict[str, Any]) -> bytes:
    data = config_to_data(config)
    for spec in data["ports"].values():
        for key in ("psk-file", "psk-env"):
            spec.pop(key, None)  # laptop-local sources mean nothing on the box
    psk = {p.interface: p.psk.reveal() for p in config.ports if p.psk is not None}
    return json.dumps({"action": action, "config": data, "psk": psk,
                       "options": options}).encode()  # fmt: skip


def agent(ssh: Ssh, pyz_path: str, request: bytes) -> dict[str, Any]:
    cp = ssh.root(f"python3 {pyz_path} _agent", stdin=request, timeout=180)
    if cp.returncode == SSH_FAILED:
        raise RemoteError(f"lost the SSH connection to {ssh.target}: "
                          + cp.stderr.decode(errors="replace").strip())  # fmt: skip
    try:
        answer: dict[str, Any] = json.loads(cp.stdout)
    except ValueError:
        raise RemoteError(
            "the box answered something that is not tightrope's JSON: "
            + (cp.stderr or cp.stdout).decode(errors="replace")[-500:]
        ) from None
    if "error" in answer:
        err = TightropeError(answer.get("message", "failed on the box"), answer.get("hint", ""))
        err.exit_code = answer.get("exit_code", err.exit_code)
        raise err
    return answer


def _last_json(raw: bytes) -> dict[str, Any]:
    """The JSON document a command printed (pretty-printed or one per line: take the last)."""
    try:
        whole: dict[str, Any] = json.loads(raw)
        return whole
    except ValueError:
        pass
    for line in reversed(raw.decode(errors="replace").strip().splitlines()):
        if line.startswith("{"):
            try:
                value: dict[str, Any] = json.loads(line)
                return value
            except ValueError:
                continue
    return {}


def apply_remote(
    ssh: Ssh,
    config: BondConfig,
    pyz: Path,
    *,
    options: dict[str, Any],
    consent: Callable[[dict[str, Any]], bool],
    emit: Emit,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> JourneyResult:
    t0 = clock()
    old = ssh.target.host
    emit("connect", f"connecting to {ssh.target}")
    path = ssh.ensure_pyz(pyz)
    emit("plan", "reading the box's state")
    answer = agent(ssh, path, request_for(config, "plan", options))
    plan = answer["plan"]
    name = str(ssh.target)  # results are named as the user named the box
    if plan["no_change"] or not consent(answer):
        outcome = "no-change" if plan["no_change"] else "declined"
        return JourneyResult(name, old, plan.get("reconnect_at"), outcome,
                             seconds=clock() - t0)  # fmt: skip
    started = agent(ssh, path, request_for(config, "apply", options))["started"]
    txn, new = started["txn"], started["reconnect_at"]
    emit("started", f"transaction {txn} running on the box; the session to {old} will drop")
    ssh.close()
    if not new:
        return JourneyResult(name, old, None, "unknown", "the bond takes a DHCP "
                             "address: confirm from it with `tightrope confirm`", txn,
                             seconds=clock() - t0)  # fmt: skip
    window = int(started["confirm_timeout_s"]) + int(options.get("verify_timeout", 60)) + 30
    there = ssh.at(new)
    last_old = clock()
    old_silent = False
    deadline = clock() + window
    while clock() < deadline:
        if there.reachable(timeout=3):
            t_new = clock()
            outage = t_new - last_old if old_silent else 0.0
            emit("reached", f"{new} answers after {t_new - t0:.1f} s; confirming from there")
            result = _confirm(there, path, name, old, new, txn, outage, t0, clock)
            if result.outcome in ("committed", "rolled-back"):
                return result
            # The box left the new address while we confirmed (its verification failed and
            # it rolled back): ask it at the old address how the transaction ended.
            emit("lost", f"{new} went away while confirming; asking {old} what happened")
            return _after_rollback(ssh, path, name, old, new, txn, t0, clock, sleep)
        if not old_silent and ssh.reachable(timeout=2):
            last_old = clock()
        else:
            if not old_silent:
                emit("dropped", f"{old} went silent; waiting for {new}")
            old_silent = True
        sleep(1.0)
    emit("waiting", f"{new} never answered; waiting for the box to roll back to {old}")
    return _after_rollback(ssh, path, name, old, new, txn, t0, clock, sleep)


def _confirm(
    there: Ssh,
    path: str,
    host: str,
    old: str,
    new: str,
    txn: str,
    outage: float,
    t0: float,
    clock: Callable[[], float],
) -> JourneyResult:
    cp = there.root(f"python3 {path} confirm {txn} --json", timeout=150)
    result = _last_json(cp.stdout)
    outcome = result.get("outcome") or ("committed" if cp.returncode == 0 else "unknown")
    reason = result.get("reason") or result.get("message") or ""
    return JourneyResult(host, old, new, outcome, reason, txn, outage, clock() - t0)


def _after_rollback(
    ssh: Ssh,
    path: str,
    host: str,
    old: str,
    new: str,
    txn: str,
    t0: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> JourneyResult:
    until = clock() + 180
    while clock() < until and not ssh.reachable(timeout=3):
        sleep(1.0)
    cp = ssh.root(f"python3 {path} log {txn} --json", timeout=60)
    state = _last_json(cp.stdout) if cp.returncode == 0 else {}
    outcome = state.get("outcome") or "unknown"
    reason = state.get("reason") or f"{new} never answered and {old} did not answer again"
    return JourneyResult(host, old, new, outcome, reason, txn, None, clock() - t0)
