"""The detached runner: forked from the agent (run_forked), or a fresh Python started as a
transient systemd unit (`_txn-run`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tightrope.core.ids import TXN_ID
from tightrope.errors import Exit, TightropeError
from tightrope.txn.state import DEFAULT_ROOT, Store

if TYPE_CHECKING:
    from tightrope.core.snapshot import Snapshot


def run_transaction(txn_id: str, state_dir: str | None) -> int:
    """A fresh runner (a transient service): its secrets come through the FIFO."""
    from tightrope.txn.launch import FIFO_NAME, receive_secrets

    store = Store(Path(state_dir or DEFAULT_ROOT))
    store.with_runner(txn_id, os.getpid())
    try:
        secrets = receive_secrets(store.txn_dir(txn_id) / FIFO_NAME)
    except TightropeError as exc:
        state = store.load(txn_id)
        store.update(state, phase="failed", outcome="failed", reason=str(exc))
        store.release(txn_id)
        return int(Exit.FAILED)
    return run_with_secrets(txn_id, store, secrets)


def run_forked(txn_id: str, root: Path, secrets: dict[str, str],
               before: Snapshot | None = None) -> int:  # fmt: skip
    """The agent's fork (txn/fork.py), already in its own unit: the secrets are in memory,
    and the box as the agent read it a moment ago (None: read it again)."""
    store = Store(root)
    store.with_runner(txn_id, os.getpid())
    return run_with_secrets(txn_id, store, secrets, before)


def stacks_on_usr1() -> None:
    """`kill -USR1 <runner pid>` writes every thread's stack to stderr (the journal, for a
    runner): a runner that hangs can say where, with no debugger on the box."""
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1, all_threads=True)


def run_with_secrets(txn_id: str, store: Store, secrets: dict[str, str],
                     before: Snapshot | None = None) -> int:  # fmt: skip
    stacks_on_usr1()
    # The engine is imported once the secrets are in: the agent that started this change
    # waits at the FIFO until then, and the laptop for its answer (seconds on a small box).
    from tightrope.txn import runner
    from tightrope.txn.clock import RealClock
    from tightrope.txn.nmbackend import HostSystem, NMBackend

    final = runner.run(txn_id, store=store, backend=NMBackend(), system=HostSystem(),
                       clock=RealClock(), secrets=secrets, before=before)  # fmt: skip
    return int(Exit.OK if final.outcome == "committed" else Exit.FAILED)


def main(argv: list[str] | None = None) -> int:
    """`_txn-run TXN --root DIR`, without the CLI: the change waits for this process."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 4 or args[0] != "_txn-run" or args[2] != "--root":
        sys.stderr.write("usage: _txn-run TXN --root DIR\n")
        return int(Exit.USAGE)
    if not TXN_ID.match(args[1]):  # it names a directory: only an id, never a path
        sys.stderr.write(f"_txn-run: {args[1]!r} is not a transaction id\n")
        return int(Exit.USAGE)
    return run_transaction(args[1], args[3])
