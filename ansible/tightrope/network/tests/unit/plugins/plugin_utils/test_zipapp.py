# Copyright: tightrope developers
# MIT License (see the collection's README)
"""The controller side: which zipapp to send, how it lands in the box's cache."""

from __future__ import annotations

import hashlib

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
