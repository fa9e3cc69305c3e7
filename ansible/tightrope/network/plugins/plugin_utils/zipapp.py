# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The controller side: find tightrope's zipapp in the collection and put it on the box.

The zipapp is built from the same checkout as the collection (scripts/build-collection puts
it into the collection's files/); the box keeps it in a root-owned cache under its
content-hash name, the same place `tightrope --host` uses, so it is sent once per version.
"""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = "/var/cache/tightrope"
# Task variables that point elsewhere (a zipapp built by hand; a cache for tests).
PYZ_VAR = "tightrope_pyz"
CACHE_VAR = "tightrope_cache_dir"


class ZipappError(Exception):
    pass


def find_local_pyz(task_vars: Mapping[str, Any], root: Path = COLLECTION_ROOT) -> Path:
    override = task_vars.get(PYZ_VAR)
    if override:
        path = Path(str(override)).expanduser()
        if not path.is_file():
            raise ZipappError(f"{PYZ_VAR}={override}: no such file on the controller")
        return path
    found = sorted((root / "files").glob("tightrope-*.pyz"))
    if len(found) != 1:
        what = "no zipapp" if not found else f"{len(found)} zipapps"
        raise ZipappError(
            f"the collection at {root} holds {what} in files/: build it with "
            f"scripts/build-collection (or set {PYZ_VAR} to a zipapp built with "
            "`python -m tightrope.remote.zipapp DIR`)"
        )
    return found[0]


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def install_command(tmp_file: str, cache: str, name: str) -> str:
    """Copy the transferred file into the root-owned cache; the rename makes it atomic, so a
    concurrent or interrupted run never leaves a half file under the final name."""
    dest = f"{cache}/{name}"
    q = shlex.quote
    return (f"umask 022 && mkdir -p {q(cache)} && chmod 0755 {q(cache)} && "
            f"cp {q(tmp_file)} {q(dest + '.part')} && chmod 0644 {q(dest + '.part')} && "
            f"mv -f {q(dest + '.part')} {q(dest)}")  # fmt: skip


def cached_matches(stdout: str, digest: str) -> bool:
    return stdout.split()[:1] == [digest]


class ZipappAction(ActionBase):
    """Action plugin base: make sure the zipapp is on the box, then run MODULE with `pyz`."""

    MODULE = ""
    # False on purpose: True makes ActionBase create a remote temporary directory up front and
    # remove it only after the module, i.e. over SSH to an address the bond may just have
    # taken away. ensure_pyz makes its own, only when it must send the zipapp, and removes it
    # before the module runs.
    TRANSFERS_FILES = False

    def ensure_pyz(self, task_vars: Mapping[str, Any]) -> tuple[str, bool]:
        """(the zipapp's path on the box, whether it had to be sent)."""
        local = find_local_pyz(task_vars)
        cache = str(task_vars.get(CACHE_VAR) or DEFAULT_CACHE)
        remote = f"{cache}/{local.name}"
        digest = sha256(local)
        run: Callable[..., dict[str, Any]] = self._low_level_execute_command
        check = run(f"sha256sum {shlex.quote(remote)}", sudoable=True)
        if check.get("rc") == 0 and cached_matches(check.get("stdout", ""), digest):
            return remote, False
        had_tmp = self._connection._shell.tmpdir is not None
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        tmp_file = self._connection._shell.join_path(tmpdir, local.name)
        try:
            self._transfer_file(str(local), tmp_file)
            # Readable by the become user (root), whoever copied it.
            self._fixup_perms2((tmpdir, tmp_file))
            res = run(install_command(tmp_file, cache, local.name), sudoable=True)
        finally:
            if not had_tmp:
                # Now, not at the end: after the bond task the box may have left this address.
                self._remove_tmp_path(tmpdir, force=True)
        if res.get("rc") != 0:
            raise ZipappError(f"could not put tightrope into {cache} on the box: "
                              + (res.get("stderr") or res.get("stdout") or "").strip())  # fmt: skip
        check = run(f"sha256sum {shlex.quote(remote)}", sudoable=True)
        if check.get("rc") != 0 or not cached_matches(check.get("stdout", ""), digest):
            raise ZipappError(f"{remote} on the box does not match the controller's zipapp")
        return remote, True

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        del tmp  # unused (Ansible's convention)
        try:
            remote, sent = self.ensure_pyz(task_vars)
        except ZipappError as exc:
            result.update(failed=True, msg=str(exc))
            return result
        args = dict(self._task.args)
        args["pyz"] = remote
        result.update(self._execute_module(module_name=self.MODULE, module_args=args,
                                           task_vars=task_vars))  # fmt: skip
        result["pyz"] = {"path": remote, "sent": sent}
        return result


class MovingAction(ZipappAction):
    """For a module after which the box may leave the address Ansible reached it at."""

    def cleanup(self, force: bool = False) -> None:
        try:
            super().cleanup(force)
        except AnsibleConnectionFailure:
            # The bond took the old address away before Ansible removed its temporary module
            # files: the task itself succeeded, so do not turn it into "unreachable". (With
            # pipelining there are no such files.)
            display.warning(
                "the box left its old address before Ansible removed its temporary files "
                "there; enable pipelining to avoid them"
            )
