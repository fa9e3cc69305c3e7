"""`_agent`: one process per SSH connection serving the laptop's requests, one JSON line each
way (tightrope.proto), until the laptop closes stdin.

The agent reads the box only when a request needs it, and remembers the plan it showed so a
refused start can name what moved. Nothing here prints anything but protocol lines. A laptop
that goes away (Ctrl-C, a watch it no longer wants) ends the agent quietly.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

from tightrope import __version__, proto
from tightrope.box import app, glance
from tightrope.box.env import BoxEnv
from tightrope.errors import ConfigError, Exit, TightropeError

if TYPE_CHECKING:  # an agent that confirms or shows a status never plans: imported where used
    from tightrope.core.model import BondConfig
    from tightrope.core.plan import Plan

REQUESTS = (proto.Hello, proto.PlanRequest, proto.StartRequest, proto.TxnRequest,
            proto.UndoRequest, proto.StatusRequest, proto.HistoryRequest, proto.DrillRequest,
            proto.WatchRequest)  # fmt: skip
Write = Callable[[proto.Message], None]


def error_answer(exc: BaseException) -> proto.ErrorAnswer:
    if isinstance(exc, TightropeError):
        problems = tuple({"field": p.field, "message": p.message, "fix": p.fix}
                         for p in getattr(exc, "problems", ()))  # fmt: skip
        return proto.ErrorAnswer(error=type(exc).__name__, message=str(exc), hint=exc.hint,
                                 exit_code=int(exc.exit_code), problems=problems)  # fmt: skip
    if isinstance(exc, proto.ProtocolError):
        return proto.ErrorAnswer(error="ProtocolError", message=f"bad request: {exc}",
                                 hint="The laptop and the box run different tightrope "
                                 "versions: run the command again to refresh the box's copy.",
                                 exit_code=int(Exit.BOX_UNSUPPORTED))  # fmt: skip
    return proto.ErrorAnswer(error=type(exc).__name__, message=f"internal error on the box: "
                             f"{exc}", hint="Please report it with `tightrope log`'s output.",
                             exit_code=int(Exit.FAILED))  # fmt: skip


class Agent:
    def __init__(self, env: BoxEnv, laptop_spoke: Callable[[], bool] = lambda: False) -> None:
        self.env = env
        self.shown: dict[str, Plan] = {}  # fingerprint -> the plan shown in this session
        self.last: app.Planned | None = None  # the last plan shown, until its start takes it
        # Whether the laptop closed the session or sent another line: a watch then ends.
        self.laptop_spoke = laptop_spoke

    def handle(self, msg: proto.Message, write: Write) -> proto.Message:
        env = self.env
        if isinstance(msg, proto.Hello):
            return proto.HelloAnswer(version=__version__, hostname=socket.gethostname(),
                                     python=sys.version.split()[0])  # fmt: skip
        if isinstance(msg, proto.PlanRequest):
            planned = app.plan(env, self._config(msg.config, msg.psk))
            self.shown[planned.fingerprint] = planned.plan
            self.last = planned
            return proto.PlanAnswer(host=planned.host, nm_version=planned.nm_version,
                                    plan=planned.plan.to_dict(),
                                    fingerprint=planned.fingerprint)  # fmt: skip
        if isinstance(msg, proto.StartRequest):
            config = self._config(msg.config, msg.psk)
            agreed = msg.fingerprint
            return app.start(env, config, msg.options, agreed, self.shown.get(agreed),
                             self._fresh(agreed))  # fmt: skip
        if isinstance(msg, proto.UndoRequest):
            return app.undo(env, msg.txn, msg.options)
        if isinstance(msg, proto.StatusRequest):
            return proto.StatusAnswer(status=glance.status(env).to_dict())
        if isinstance(msg, proto.HistoryRequest):
            return proto.HistoryAnswer(txns=app.history(env))
        if isinstance(msg, proto.TxnRequest):
            return self._txn(msg, write)
        if isinstance(msg, proto.DrillRequest):
            from tightrope.core.drill import result_to_dict

            return proto.DrillAnswer(result=result_to_dict(app.drill(env, msg)))
        if isinstance(msg, proto.WatchRequest):
            return self._watch(msg, write)
        raise proto.ProtocolError(f"{msg.kind} is not a request")

    def _watch(self, msg: proto.WatchRequest, write: Write) -> proto.Message:
        def tell(ev: proto.WatchEvent) -> None:
            write(proto.Event(message=f"{ev.source} {ev.subject}: {ev.what}", watch=ev))

        told = app.watch(self.env, msg.seconds, tell, stop=self.laptop_spoke)
        return proto.WatchAnswer(events=told)

    def _txn(self, msg: proto.TxnRequest, write: Write) -> proto.Message:
        def tell(v: proto.TxnView) -> None:
            left = ("" if v.deadline_in_s is None else
                    f" (the box rolls back in {v.deadline_in_s:.0f} s unless confirmed)")
            write(proto.Event(message=f"transaction {v.id}: {v.phase}{left}", txn=v))

        if msg.action in ("confirm", "abort"):
            return app.settle(self.env, msg.action, msg.txn, msg.wait_s, tell)
        if msg.action == "log" and msg.txn is not None:
            return app.log(self.env, msg.txn)
        if msg.action == "wait" and msg.txn is not None:
            self.env.require_root()
            return app.wait(self.env, msg.txn, msg.wait_s, tell)
        return app.progress(self.env, msg.txn)

    def _fresh(self, agreed: str) -> app.Planned | None:
        """The plan just shown in this session and its read, if still fresh (app.fresh)."""
        last = self.last
        if last is None or last.fingerprint != agreed:
            return None
        self.last = None
        return app.fresh(self.env, last)

    @staticmethod
    def _config(data: dict[str, Any], psk: dict[str, str]) -> BondConfig:
        from tightrope.core.configdump import config_with_secrets

        try:
            return config_with_secrets(dict(data), psk)
        except ConfigError:
            raise
        except (TypeError, ValueError, KeyError) as exc:
            raise proto.ProtocolError(f"config: {exc}") from None


def readable(stream: BinaryIO) -> Callable[[], bool]:
    """Whether `stream` has something to read now (end of input included). Only the file
    descriptor is looked at: a line already in the reader's buffer is not seen, so a watch
    then just runs its seconds."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError):  # an in-memory stream: nothing arrives while serving
        return lambda: False
    return lambda: bool(select.select([fd], [], [], 0)[0])


def serve(env: BoxEnv, stdin: BinaryIO, stdout: BinaryIO) -> int:
    agent = Agent(env, readable(stdin))

    def write(message: proto.Message) -> None:
        stdout.write(proto.encode(message))
        stdout.flush()

    try:
        while True:
            line = stdin.readline(proto.MAX_LINE + 1)
            if not line:
                return int(Exit.OK)
            if not line.strip():
                continue
            try:
                answer = agent.handle(proto.decode(line, *REQUESTS), write)
            except BrokenPipeError:
                raise
            except (TightropeError, proto.ProtocolError) as exc:
                answer = error_answer(exc)
            except Exception as exc:
                answer = error_answer(exc)
            write(answer)
    except BrokenPipeError:
        # The laptop is gone: nobody is left to tell, and the unwritten rest must not make
        # Python complain at exit either.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())
        return int(Exit.OK)


def main() -> int:
    from tightrope.box.env import real_env

    return serve(real_env(), sys.stdin.buffer, sys.stdout.buffer)
