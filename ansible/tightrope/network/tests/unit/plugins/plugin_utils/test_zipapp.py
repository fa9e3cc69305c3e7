# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The controller side: which zipapp to send, how it lands in the box's cache."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from ansible_collections.tightrope.network.plugins.plugin_utils import zipapp


def test_the_collections_own_zipapp_is_found(tmp_path):
    (tmp_path / "files").mkdir()
    with pytest.raises(zipapp.ZipappError, match=r"no zipapp in files/.*scripts/build-collection"):
        zipapp.find_local_pyz({}, root=tmp_path)
    one = tmp_path / "files" / "tightrope-0123456789abcdef.pyz"
    one.write_bytes(b"PK")
    assert zipapp.find_local_pyz({}, root=tmp_path) == one
    (tmp_path / "files" / "tightrope-fedcba9876543210.pyz").write_bytes(b"PK")
    with pytest.raises(zipapp.ZipappError, match="2 zipapps"):
        zipapp.find_local_pyz({}, root=tmp_path)


def test_a_task_variable_points_at_another_zipapp(tmp_path):
    other = tmp_path / "tightrope-x.pyz"
    other.write_bytes(b"PK")
    assert zipapp.find_local_pyz({zipapp.PYZ_VAR: str(other)}, root=tmp_path) == other
    with pytest.raises(zipapp.ZipappError, match="no such file on the controller"):
        zipapp.find_local_pyz({zipapp.PYZ_VAR: str(tmp_path / "nope.pyz")}, root=tmp_path)


def test_sha256_and_cache_check(tmp_path):
    f = tmp_path / "t.pyz"
    f.write_bytes(b"zipapp bytes")
    digest = hashlib.sha256(b"zipapp bytes").hexdigest()
    assert zipapp.sha256(f) == digest
    assert zipapp.cached_matches(f"{digest}  /var/cache/tightrope/t.pyz\n", digest)
    assert not zipapp.cached_matches("", digest)
    assert not zipapp.cached_matches("0" * 64 + "  /var/cache/tightrope/t.pyz", digest)


def test_install_command_renames_into_place_and_quotes():
    cmd = zipapp.install_command("/home/a b/.ansible/tmp/x/t.pyz", "/var/cache/tightrope", "t.pyz")
    assert cmd == ("umask 022 && mkdir -p /var/cache/tightrope && chmod 0755 /var/cache/tightrope"
                   " && cp '/home/a b/.ansible/tmp/x/t.pyz' /var/cache/tightrope/t.pyz.part"
                   " && chmod 0644 /var/cache/tightrope/t.pyz.part"
                   " && mv -f /var/cache/tightrope/t.pyz.part /var/cache/tightrope/t.pyz")


class FakeBoxShell:
    """What ensure_pyz asks of Ansible's connection, recorded in order."""

    def __init__(self, cached_digest):
        self.cached_digest = cached_digest
        self.events = []
        self.tmpdir = None
        self.sent = None

    def join_path(self, *parts):
        return "/".join(parts)

    def run(self, cmd, sudoable=False):
        self.events.append(("run", cmd.split()[0], sudoable))
        if cmd.startswith("sha256sum"):
            if self.cached_digest is None:
                return {"rc": 1, "stdout": "", "stderr": "No such file"}
            return {"rc": 0, "stdout": f"{self.cached_digest}  {cmd.split()[1]}\n"}
        self.cached_digest = self.sent
        return {"rc": 0, "stdout": ""}

    def make_tmp(self):
        self.tmpdir = "/home/u/.ansible/tmp/at-1"
        self.events.append(("mktemp",))
        return self.tmpdir

    def transfer(self, local, remote):
        self.sent = zipapp.sha256(Path(local))
        self.events.append(("put", remote))

    def remove_tmp(self, path, force=False):
        self.events.append(("rmtemp", path))
        self.tmpdir = None


def action_on(shell):
    action = object.__new__(zipapp.ZipappAction)
    action._connection = type("Conn", (), {"_shell": shell})()
    action._low_level_execute_command = shell.run
    action._make_tmp_path = shell.make_tmp
    action._transfer_file = shell.transfer
    action._fixup_perms2 = lambda paths: None
    action._remove_tmp_path = shell.remove_tmp
    return action


def test_the_zipapp_is_sent_once_and_the_temporary_dir_goes_before_the_module(tmp_path):
    pyz = tmp_path / "tightrope-0123456789abcdef.pyz"
    pyz.write_bytes(b"zipapp")
    task_vars = {zipapp.PYZ_VAR: str(pyz)}
    shell = FakeBoxShell(cached_digest=None)
    remote, sent = action_on(shell).ensure_pyz(task_vars)
    assert remote == "/var/cache/tightrope/tightrope-0123456789abcdef.pyz" and sent is True
    assert [e[0] for e in shell.events] == ["run", "mktemp", "put", "run", "rmtemp", "run"]
    assert all(e[2] for e in shell.events if e[0] == "run")  # as root (become)
    assert shell.tmpdir is None  # nothing left to clean up after the module
    shell.events.clear()
    assert action_on(shell).ensure_pyz(task_vars) == (remote, False)
    assert [e[0] for e in shell.events] == ["run"]  # only the sha256sum


def test_a_cache_that_does_not_match_after_the_copy_is_an_error(tmp_path):
    pyz = tmp_path / "tightrope-0123456789abcdef.pyz"
    pyz.write_bytes(b"zipapp")
    shell = FakeBoxShell(cached_digest="0" * 64)
    shell.run = lambda cmd, sudoable=False: {"rc": 0, "stdout": "0" * 64 + "  x\n"}
    action = action_on(shell)
    with pytest.raises(zipapp.ZipappError, match="does not match"):
        action.ensure_pyz({zipapp.PYZ_VAR: str(pyz)})


def test_no_remote_temporary_directory_up_front():
    # ActionBase would otherwise make one before run() and remove it after the module, over SSH
    # to an address the bond may have taken away.
    assert zipapp.ZipappAction.TRANSFERS_FILES is False
