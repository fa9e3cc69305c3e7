"""`_agent`: the box side of remote mode. One JSON request on stdin, one JSON answer on stdout.

The request carries the desired state without any PSK source and the PSKs themselves, so the
secret travels only inside the SSH channel's stdin: never in argv, the environment or a file.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tightrope.cli import render
from tightrope.cli.cmd_apply import ApplyOptions, plan_on_box, start_on_box
from tightrope.errors import Exit, UsageError
from tightrope.txn.runner import config_with_secrets

MAX_REQUEST = 1 << 20


def _run(args: argparse.Namespace) -> int:
    try:
        request: dict[str, Any] = json.loads(sys.stdin.read(MAX_REQUEST))
        action = request["action"]
        config = config_with_secrets(request["config"], request.get("psk", {}))
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"bad agent request: {exc!r}") from None
    opts = ApplyOptions(**request.get("options", {}))
    plan, snap = plan_on_box(config, opts)
    answer: dict[str, Any] = {"host": snap.hostname, "nm_version": snap.nm_version,
                              "plan": plan.to_dict()}  # fmt: skip
    if action == "apply" and not plan.no_change:
        state = start_on_box(config, plan, snap, opts)
        answer["started"] = {"txn": state.id, "reconnect_at": state.reconnect_at,
                             "confirm_timeout_s": state.confirm_timeout_s}  # fmt: skip
    render.emit_json(answer)
    return int(Exit.OK)


def register(sub: Any) -> None:
    p = sub.add_parser("_agent")  # hidden: spoken to by `--host` over SSH
    p.add_argument("--json", action="store_true", default=True, help=argparse.SUPPRESS)
    p.set_defaults(func=_run)
