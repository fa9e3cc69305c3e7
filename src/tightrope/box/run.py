"""The detached runner's entry (`_txn-run`, started as a transient systemd unit)."""

from __future__ import annotations

import os
from pathlib import Path

from tightrope.errors import Exit, TightropeError
from tightrope.txn import control
from tightrope.txn.state import DEFAULT_ROOT, Store


def run_transaction(txn_id: str, state_dir: str | None) -> int:
    from tightrope.txn import runner
    from tightrope.txn.clock import RealClock
    from tightrope.txn.launch import FIFO_NAME, receive_secrets
    from tightrope.txn.nmbackend import HostSystem, NMBackend

    store = Store(Path(state_dir or DEFAULT_ROOT))
    control.with_runner(store, txn_id, os.getpid())
    try:
        secrets = receive_secrets(store.txn_dir(txn_id) / FIFO_NAME)
    except TightropeError as exc:
        state = store.load(txn_id)
        store.update(state, phase="failed", outcome="failed", reason=str(exc))
        store.release(txn_id)
        return int(Exit.FAILED)
    final = runner.run(txn_id, store=store, backend=NMBackend(), system=HostSystem(),
                       clock=RealClock(), secrets=secrets)  # fmt: skip
    return int(Exit.OK if final.outcome == "committed" else Exit.FAILED)
