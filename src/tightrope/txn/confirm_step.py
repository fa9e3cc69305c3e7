"""The steps after verification: waiting for the confirmation, and writing the confirmed
profiles to disk (txn/netplan_commit.py writes netplan's instead). steps.py has the others."""

from __future__ import annotations

import contextlib

from tightrope.errors import TightropeError
from tightrope.txn.steps import Context, RolledBack

FLAG_POLL_S = 0.1
LOOK_S = 0.5


class AwaitConfirm:
    name = "await-confirm"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def commit(self) -> None:
        try:
            self._await()
        finally:
            self.ctx.follow_ports = None
            self.ctx.close_events()

    def _await(self) -> None:
        ctx = self.ctx
        ctx.deadline = ctx.clock.mono() + ctx.confirm_timeout_s
        ctx.set_phase("awaiting-confirm", ctx.deadline)
        ctx.note(
            f"waiting {ctx.confirm_timeout_s} s for `tightrope confirm`"
            + (" (auto-confirm on)" if ctx.auto_confirm else "")
        )
        looked = float("-inf")
        while True:
            ctx.stop_if_asked()
            if ctx.store.flag(ctx.txn_id, "confirm"):
                ctx.note("confirmed by `tightrope confirm`")
                return
            # The flag is a stat() and the admin waits on it: looked for every FLAG_POLL_S.
            # What costs D-Bus calls or pings is looked at every LOOK_S.
            due = ctx.clock.mono() - looked >= LOOK_S
            if due and ctx.auto_confirm and self._reachable():
                ctx.note(
                    "auto-confirmed: the gateway and the SSH client answer"
                    + (f" through {ctx.probe_via}" if ctx.probe_via else "")
                )
                return
            if ctx.clock.mono() >= ctx.deadline:
                raise RolledBack(f"not confirmed within {ctx.confirm_timeout_s} s")
            if due:
                looked = ctx.clock.mono()
                self._look()
            ctx.clock.sleep(FLAG_POLL_S)

    def _look(self) -> None:
        ctx = self.ctx
        if ctx.checkpoint is not None and not ctx.checkpoint_alive():
            raise RolledBack("the checkpoint vanished (NetworkManager restarted?)")
        while ctx.while_waiting:  # work the commit would do after the confirmation
            ctx.while_waiting.pop(0)()
        if ctx.follow_ports is not None:
            # What a port not waited for does is news for the record, never a verdict.
            with contextlib.suppress(TightropeError):
                ctx.follow_ports()

    def _reachable(self) -> bool:
        ctx = self.ctx
        targets = [str(t) for t in (ctx.config.ipv4.gateway, ctx.ssh_client) if t]
        return bool(targets) and all(ctx.system.ping(t, ctx.probe_via) for t in targets)

    def rollback(self) -> None:
        pass


def hold_for_commit(ctx: Context) -> None:
    """Confirmed: keep the short guard (not the window) while writing to disk. A confirmation
    in the window's last second left NetworkManager's timer nearly run out, so re-arm now."""
    ctx.set_phase("committing", None)
    ctx.deadline = ctx.last_moment = None
    if ctx.checkpoint is not None and ctx.rearm is not None:
        ctx.backend.checkpoint_adjust(ctx.checkpoint, ctx.rearm.guard_s)


class Persist:
    name = "persist"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def commit(self) -> None:
        ctx = self.ctx
        hold_for_commit(ctx)
        for want in ctx.plan.desired:
            ctx.backend.update_profile(want.uuid, None, to_disk=True)
        # On the disk before the point of no return, which edits netplan and destroys the
        # checkpoint. Measured (fault bench, power cut while committing): NetworkManager's
        # new keyfiles came back empty while tightrope's netplan edit survived, and the box
        # booted with neither the old profiles nor the new ones.
        ctx.system.sync()
        ctx.note(f"wrote {len(ctx.plan.desired)} profile(s) to disk")

    def rollback(self) -> None:
        pass  # the checkpoint deletes new profiles wherever they are stored
