"""Committing the bond as netplan YAML, on a box whose ports' network comes from netplan.

Before the point of no return, netplan itself judges the files the commit will write
(`netplan generate` into a scratch root): YAML that netplan refuses would leave the box with
no network at its next boot, so it rolls the change back instead, in netplan's words.

After it, in an order that is safe against a power cut at any moment:
1. tightrope's own file (0600, the PSK as netplan keeps it): from here the box boots bonded,
   because the bond's ports outrank any other profile netplan renders for them;
2. the files that defined the ports, their stanzas removed (backed up byte for byte first);
3. `netplan generate`, then NetworkManager re-reads its profiles. The profiles that carried
   the bond since activation lived in memory; their files under /run go in the same reload
   that brings netplan's rendering of them (same UUIDs, same names), so NetworkManager sees
   one profile change its storage, not one leave and another arrive: nothing is re-activated.
NetworkManager is never asked to write or delete a profile on disk here: on Ubuntu's and
Raspberry Pi OS trixie's NetworkManager that would rewrite whole YAML files, comments lost.

netplan's own editor, `netplan set` (with `--origin-hint` to name the file), is not used:
it takes values on its command line, so the PSK would be in argv for every `ps` to see; and
removing a stanza with it (`ethernets.eth0=null`) re-emits the file it edits from parsed data,
losing the admin's comments and layout, which undo could then not restore byte for byte.
Our own file is written whole instead, and the others are edited line by line
(core/netplan_edit.py). `netplan get` is what the lab uses to prove netplan reads the bond.
"""

from __future__ import annotations

from collections.abc import Callable

from tightrope.core.discovery import stanzas_by_file
from tightrope.core.netplan_edit import remove_stanzas
from tightrope.core.netplan_yaml import render
from tightrope.core.plan import carry_for
from tightrope.errors import TightropeError
from tightrope.txn.chores import Chore
from tightrope.txn.confirm_step import hold_for_commit
from tightrope.txn.steps import Context, RolledBack

RUN_PROFILES = "/run/NetworkManager/system-connections/"


def planned_files(ctx: Context) -> tuple[dict[str, bytes], list[str]]:
    """What the commit writes, by path (tightrope's own file first), and what it cannot."""
    carry = carry_for(ctx.config, ctx.plan.discovery, ctx.before)
    own = render(ctx.config, reveal=True, carry=carry)
    files = {ctx.plan.storage.netplan_file: own.encode("utf-8")}
    problems = [
        f"the PSK for {p.interface} is not known here, so it cannot go into the YAML"
        for p in ctx.config.wifi_ports if p.psk is None
    ]  # fmt: skip
    for path, stanzas in stanzas_by_file(ctx.plan.discovery.netplan).items():
        raw = ctx.system.read_bytes(path)
        if raw is None:
            problems.append(f"{path} vanished before it could be edited")
            continue
        wanted = [(s.section, s.key) for s in stanzas]
        try:
            edit = remove_stanzas(raw.decode("utf-8"), wanted)
        except (UnicodeDecodeError, ValueError) as exc:
            problems.append(f"{path}: cannot edit ({exc}); remove {wanted} by hand")
            continue
        files[path] = edit.text.encode("utf-8")
    return files, problems


class PersistNetplan:
    """Confirmed: netplan must accept what the commit will write, or the change rolls back.
    It is asked while the change waits for its confirmation (0.4 s of `netplan generate`
    under emulation, which the admin waited for after confirming), and again at the commit
    only if the files to write have changed meanwhile."""

    name = "persist"

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.judged: tuple[dict[str, bytes], str | None] | None = None
        ctx.while_waiting.append(self._prejudge)

    def _prejudge(self) -> None:
        files, problems = planned_files(self.ctx)
        if not problems:
            self.judged = files, self.ctx.system.netplan_check(files, self.ctx.config.name)

    def commit(self) -> None:
        ctx = self.ctx
        hold_for_commit(ctx)
        files, problems = planned_files(ctx)
        if problems:
            raise RolledBack("cannot commit the bond as netplan YAML: " + "; ".join(problems))
        if self.judged is not None and self.judged[0] == files:
            complaint = self.judged[1]
        else:
            complaint = ctx.system.netplan_check(files, ctx.config.name)
        if complaint:
            raise RolledBack(f"netplan refused the bond's YAML, so the box would boot without "
                             f"it; nothing was written: {complaint}")  # fmt: skip
        ctx.note(f"netplan accepts {', '.join(files)}; the profiles stay in memory until "
                 "the commit writes them")  # fmt: skip

    def rollback(self) -> None:
        pass  # nothing was written


def netplan_chores(ctx: Context) -> tuple[list[Chore], list[str]]:
    """After end_checkpoint, in order (see the module's doc): write, generate, reload; and
    what cannot be done (a file that vanished since PersistNetplan judged it)."""
    files, problems = planned_files(ctx)
    edited = stanzas_by_file(ctx.plan.discovery.netplan)
    out: list[Chore] = []
    for path, data in files.items():  # tightrope's own file first
        if path in edited:
            what = f"remove {', '.join(s.name for s in edited[path])} from {path}"
        else:
            what = f"write {path}"
        out.append(Chore(what, _writer(ctx, path, data, what)))
    out.append(Chore("run netplan generate and reload NetworkManager's profiles",
                     lambda: _generate_and_reload(ctx)))  # fmt: skip
    return out, problems


def _writer(ctx: Context, path: str, data: bytes, what: str) -> Callable[[], list[str]]:
    def run() -> list[str]:
        ctx.system.write_bytes(path, data, 0o600)
        ctx.note(what.replace("write ", "wrote ", 1).replace("remove ", "removed ", 1))
        return []

    return run


def _generate_and_reload(ctx: Context) -> list[str]:
    in_memory = in_memory_files(ctx, {d.uuid for d in ctx.plan.desired})
    try:
        if not ctx.system.netplan_generate():
            return ["netplan is not installed: the bond's YAML renders at next boot"]
        ctx.note("ran netplan generate")
    except Exception as exc:  # the YAML is written; the next boot generates again
        return [f"netplan generate failed: {exc}"]
    for path in in_memory:
        ctx.system.remove(path)
    try:
        ctx.backend.reload_profiles()
    except TightropeError as exc:
        return [f"reloading profiles: {exc}"]
    ctx.note("NetworkManager reloaded its profiles: the bond now comes from "
             f"{ctx.plan.storage.netplan_file}")  # fmt: skip
    return []


def in_memory_files(ctx: Context, uuids: set[str]) -> list[str]:
    """The /run files of these profiles as they were added (in memory), not netplan's: they
    go in the reload that brings netplan's rendering of the same UUIDs."""
    try:
        snap = ctx.snapshot()
    except TightropeError:
        return []
    return [
        p.filename for p in snap.profiles
        if p.uuid in uuids and p.filename.startswith(RUN_PROFILES)
        and not p.filename[len(RUN_PROFILES):].startswith("netplan-")
    ]  # fmt: skip
