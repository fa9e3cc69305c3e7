# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The box side of the collection: speak tightrope's agent protocol and shape module results.

Everything tightrope knows (validating the desired state, the plan, the transaction engine
with its NetworkManager checkpoint) lives in the zipapp the action plugin put on the box.
This file only speaks the zipapp's agent protocol (module_utils/proto.py, a byte-identical
copy of tightrope.proto), so there is one implementation of the network logic, shared with
the `tightrope` command and its `--host` mode.

One conversation is one agent process (`python3 PYZ _agent`): every request line goes on its
stdin at once, stdin closes, and each answer line is decoded and checked; nothing the box
prints is trusted before proto.decode accepted it.

Kept free of AnsibleModule so the unit tests call it with a fake runner and clock.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ansible_collections.tightrope.network.plugins.module_utils import proto

# The keys of tightrope's YAML config file, taken as module options verbatim.
CONFIG_KEYS = ("bond", "ports", "parameters", "ipv4", "ipv6", "mtu")
# Where a config file may name the PSK; a module takes it only through its no_log options.
PSK_KEYS = ("psk", "psk-file", "psk-env")
MIN_PYTHON = (3, 10)
DEFAULT_CACHE = "/var/cache/tightrope"
COMMITTED = proto.Outcome.COMMITTED.value
# How long one confirm request may wait on the box for the end (proto's limit); longer
# waits go on by polling.
MAX_WAIT_S = 600.0
POLL_S = 1.0

if TYPE_CHECKING:  # not evaluated at run time, so an old Python gets module_runner's message
    # argv, stdin bytes -> (exit code, stdout, stderr); AnsibleModule.run_command in production.
    Runner = Callable[[list[str], bytes], "tuple[int, bytes | str, bytes | str]"]
M = TypeVar("M", bound=proto.Message)


def module_runner(module: Any) -> Runner:
    """What every module checks before speaking to the zipapp, and its runner. `module` is
    the AnsibleModule, taken duck-typed so this file stays free of it."""
    if sys.version_info[:2] < MIN_PYTHON:
        module.fail_json(msg="tightrope needs Python 3.10+ on the box; found "
                         + ".".join(map(str, sys.version_info[:3])))  # fmt: skip
    if not module.params["pyz"]:
        module.fail_json(msg="pyz is unset: run this module through its action plugin")

    def run(argv: list[str], stdin: bytes) -> tuple[int, bytes | str, bytes | str]:
        # A list argv (no shell); the requests, PSK included, go on stdin only. Bytes back
        # (encoding=None): proto.decode judges them, undecodable ones included.
        rc, out, err = module.run_command(argv, data=stdin, binary_data=True, encoding=None)
        return rc, out, err

    return run


class AgentError(Exception):
    """The zipapp said no (or said nothing useful); `details` goes into the failed result."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


def refused(answer: proto.ErrorAnswer) -> AgentError:
    """tightrope's error answer ({error, message, hint, exit_code, problems}) as an AgentError."""
    return AgentError(answer.message or answer.error or "the box refused", error=answer.error,
                      hint=answer.hint, exit_code=answer.exit_code,
                      problems=[dict(p) for p in answer.problems])  # fmt: skip


def _text(data: bytes | str) -> str:
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def _lines(data: bytes | str) -> list[bytes]:
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogateescape")
    return [line for line in raw.split(b"\n") if line.strip()]


class Conversation:
    """One agent process: Hello, then `requests`, each answered by one line of the type
    expected (or an ErrorAnswer), events possibly before it."""

    def __init__(self, run: Runner, python: str, pyz: str) -> None:
        self.run, self.argv = run, [python, pyz, "_agent"]
        self.hello: proto.HelloAnswer | None = None
        self.events: list[proto.Event] = []

    def exchange(
        self, requests: Sequence[tuple[proto.Message, type[proto.Message]]]
    ) -> list[proto.Message]:
        """The answers, in request order; an ErrorAnswer stays in the list (the caller knows
        which refusal matters), a broken conversation raises AgentError."""
        asked = [(proto.Hello(), proto.HelloAnswer), *requests]
        messages = [message for message, _expect in asked]
        for message in messages:
            try:
                message.check()  # what the box would refuse, refused here with our words
            except proto.ProtocolError as exc:
                raise AgentError(f"{message.kind}: {exc}") from None
        stdin = b"".join(proto.encode(message) for message in messages)
        rc, out, err = self.run(self.argv, stdin)
        lines = _lines(out)
        answers: list[proto.Message] = []
        for message, expect in asked:
            while True:
                if not lines:
                    raise self._ended(rc, err, f"no answer to {message.kind}")
                line = lines.pop(0)
                try:
                    answer = proto.decode(line, expect, proto.Event)
                except proto.ProtocolError as exc:
                    raise AgentError(
                        f"tightrope on the box answered {message.kind} outside its protocol: "
                        f"{exc}", exit_code=rc, stderr=_text(err).strip()[-2000:]) from None
                if isinstance(answer, proto.Event):
                    self.events.append(answer)
                    continue
                answers.append(answer)
                break
        if lines:
            raise AgentError(f"tightrope on the box said {len(lines)} line(s) more than it was "
                             "asked for", exit_code=rc)  # fmt: skip
        hello = answers.pop(0)
        if isinstance(hello, proto.ErrorAnswer):
            raise refused(hello)
        if not isinstance(hello, proto.HelloAnswer):  # decode already refused any other type
            raise AgentError(f"expected {proto.HelloAnswer.kind}, got {hello.kind}")
        if hello.protocol != proto.PROTOCOL:
            raise AgentError(f"tightrope on the box speaks protocol {hello.protocol}, this "
                             f"collection {proto.PROTOCOL}: its zipapp and module_utils/proto.py "
                             "come from different checkouts (scripts/build-collection makes "
                             "them one)")  # fmt: skip
        self.hello = hello
        return answers

    def call(self, request: proto.Message, expect: type[M]) -> M:
        """One request whose refusal fails the task."""
        (answer,) = self.exchange([(request, expect)])
        return self.expect(answer, expect)

    @staticmethod
    def expect(answer: proto.Message, expect: type[M]) -> M:
        if isinstance(answer, proto.ErrorAnswer):
            raise refused(answer)
        if not isinstance(answer, expect):  # decode already refused any other type
            raise AgentError(f"expected {expect.kind}, got {answer.kind}")
        return answer

    @staticmethod
    def _ended(rc: int, err: bytes | str, what: str) -> AgentError:
        tail = _text(err).strip()[-2000:]
        return AgentError(f"tightrope on the box exited {rc} with {what}"
                          + (f": {tail}" if tail else ""), exit_code=rc)  # fmt: skip


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


def options(params: dict[str, Any]) -> proto.Options:
    """The transaction's options as the user gave them: an unset one takes tightrope's default;
    a value given is checked against tightrope's bounds here, before the box is asked (0 is
    refused by name, never silently replaced)."""
    given: dict[str, Any] = {k: int(params[k]) for k in ("confirm_timeout", "verify_timeout")
                             if params.get(k) is not None}  # fmt: skip
    opts = proto.Options(auto_confirm=bool(params.get("auto_confirm")),
                         verify_all_ports=bool(params.get("verify_all_ports")), **given)
    try:
        opts.check()
    except proto.ProtocolError as exc:
        raise AgentError(f"{exc}; nothing was changed", exit_code=2) from None
    return opts


def plan_request(params: dict[str, Any]) -> proto.PlanRequest:
    """The plan request; the PSKs travel only in it (and the start), on the zipapp's stdin."""
    config = desired_config(params)
    return proto.PlanRequest(config=config,
                             psk=psk_map(config, params.get("psk"), params.get("psks")),
                             options=options(params))  # fmt: skip


def start_request(planned: proto.PlanRequest, fingerprint: str) -> proto.StartRequest:
    """Start exactly the plan the box showed (its fingerprint): if the box moved in between,
    it refuses and changes nothing."""
    return proto.StartRequest(config=planned.config, psk=planned.psk, options=planned.options,
                              fingerprint=fingerprint)  # fmt: skip


def ask_plan(run: Runner, python: str, pyz: str, req: proto.PlanRequest) -> proto.PlanAnswer:
    return Conversation(run, python, pyz).call(req, proto.PlanAnswer)


def ask_start(run: Runner, python: str, pyz: str, req: proto.StartRequest) -> proto.TxnView:
    return Conversation(run, python, pyz).call(req, proto.TxnView)


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


def plan_result(answer: proto.PlanAnswer) -> dict[str, Any]:
    plan = answer.plan
    return {
        "changed": not plan.get("no_change", False),
        "host": answer.host,
        "nm_version": answer.nm_version,
        "reconnect_at": plan.get("reconnect_at"),
        "storage_world": (plan.get("storage") or {}).get("world"),
        "plan": plan,
    }


# Cautions meant for someone at a shell; a play follows the box itself (they stay in `plan`).
FOLLOWED_BY_THE_PLAY = ("ssh-cut",)


def plan_warnings(plan: dict[str, Any]) -> list[str]:
    return [f"{w.get('code')}: {w.get('message')}" for w in plan.get("warnings", [])
            if isinstance(w, dict) and w.get("severity") != "info"
            and w.get("code") not in FOLLOWED_BY_THE_PLAY]  # fmt: skip


def started_result(
    answer: proto.PlanAnswer,
    started: proto.TxnView,
    opts: proto.Options,
    now: float | None = None,
) -> dict[str, Any]:
    """What the play needs to follow the box: the transaction, where it will answer, and the
    latest moment NetworkManager rolls back by itself unless confirmed."""
    result = plan_result(answer)
    now = time.time() if now is None else now
    # The confirm window opens once the bond is verified, which takes up to verify_timeout.
    latest = now + opts.verify_timeout + opts.confirm_timeout
    result.update(
        changed=True,
        txn=started.id,
        phase=started.phase,
        reconnect_at=started.reconnect_at or result["reconnect_at"],
        confirm_timeout_s=opts.confirm_timeout,
        verify_timeout_s=opts.verify_timeout,
        started_at=now,
        rollback_deadline=latest,
        rollback_deadline_iso=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(latest)),
    )
    where = result["reconnect_at"] or "its new (DHCP) address"
    result["msg"] = (f"transaction {started.id} started; confirm from {where} within "
                     f"{int(latest - now)} s or the box rolls back")  # fmt: skip
    return result


# -- confirm: commit or report how a transaction ended -----------------------------------------


def txn_summary(view: proto.TxnView) -> dict[str, Any]:
    steps = [f"{s.name}: {s.status}" + (f" ({s.detail})" if s.detail else "")
             for s in view.steps]  # fmt: skip
    return {
        "txn": view.id,
        "phase": view.phase,
        "outcome": view.outcome,
        "reason": view.reason,
        "reconnect_at": view.reconnect_at,
        "steps": steps,
    }


def read_txn(run: Runner, python: str, pyz: str, txn: str) -> proto.TxnView:
    """The transaction as the box logged it; only reads (no confirm, no expiry)."""
    return Conversation(run, python, pyz).call(proto.TxnRequest(action="log", txn=txn),
                                               proto.TxnView)  # fmt: skip


def _wait_s(timeout: float) -> float:
    return float(min(max(timeout, 0.0), MAX_WAIT_S))


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
    `changed` says whether this call committed it.

    commit=True is one agent process: how the transaction stands, then confirm, which the box
    answers once the transaction ended (or after `timeout`) and reports a transaction that had
    already ended as it ended. Waiting without committing polls `progress`."""
    until = clock() + timeout
    if commit:
        talk = Conversation(run, python, pyz)
        confirm = proto.TxnRequest(action="confirm", txn=txn, wait_s=_wait_s(timeout))
        if txn is None:
            (answer,) = talk.exchange([(confirm, proto.TxnView)])
            view = talk.expect(answer, proto.TxnView)  # none pending: the box's refusal
            before = None
        else:
            looked, answer = talk.exchange([(proto.TxnRequest(action="log", txn=txn),
                                             proto.TxnView), (confirm, proto.TxnView)])
            before = talk.expect(looked, proto.TxnView)  # an unknown id fails here
            if before.finished:
                return {**txn_summary(before), "changed": False}
            if isinstance(answer, proto.ErrorAnswer):
                # It ended between the look and the confirm (e.g. the window closed): say how.
                return _wait_for_end(run, python, pyz, txn, timeout, until, clock, sleep)
            view = talk.expect(answer, proto.TxnView)
        if view.finished:
            return {**txn_summary(view), "changed": view.outcome == COMMITTED}
        return _wait_for_end(run, python, pyz, view.id, timeout, until, clock, sleep)
    if txn is None:
        raise AgentError("txn: name the transaction to report on (the bond task's `txn`)")
    return _wait_for_end(run, python, pyz, txn, timeout, until, clock, sleep)


def _wait_for_end(
    run: Runner,
    python: str,
    pyz: str,
    txn: str,
    timeout: float,
    until: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    """Wait until the transaction ended (changed: False, this call committed nothing): the box
    answers `wait` when it ended or after the protocol's longest wait, so this is one agent
    process per ten minutes, not one per poll (each costs seconds of Python on a Pi)."""
    while True:
        left = max(0.0, until - clock())
        ask = proto.TxnRequest(action="wait", txn=txn, wait_s=_wait_s(left))
        view = Conversation(run, python, pyz).call(ask, proto.TxnView)
        if view.finished:
            return {**txn_summary(view), "changed": False}
        if clock() >= until:
            raise AgentError(f"transaction {txn} is still {view.phase} after {timeout:.0f} s",
                             **txn_summary(view))  # fmt: skip
        sleep(POLL_S)  # the box answered early (it was restarting?): do not spin


def outcome_message(summary: dict[str, Any]) -> str:
    msg = f"transaction {summary.get('txn')}: {summary.get('outcome') or summary.get('phase')}"
    return msg + (f" ({summary['reason']})" if summary.get("reason") else "")


# -- facts ------------------------------------------------------------------------------------


def status_facts(run: Runner, python: str, pyz: str, bond: str | None) -> dict[str, Any]:
    """`tightrope status --json`'s document (the agent's StatusAnswer), plus the chosen bond."""
    doc = dict(Conversation(run, python, pyz).call(proto.StatusRequest(),
                                                   proto.StatusAnswer).status)  # fmt: skip
    bonds = doc.get("bonds")
    if not isinstance(bonds, list) or not all(isinstance(b, dict) for b in bonds):
        raise AgentError("tightrope on the box answered a status without a list of bonds")
    chosen = [b for b in bonds if not bond or b.get("name") == bond]
    doc["bond"] = chosen[0] if chosen else None
    doc["active_port"] = chosen[0].get("active_port") if chosen else None
    return doc
