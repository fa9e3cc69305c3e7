"""How tightrope starts on the box: the preflight line, the compiled tree the box makes from
the zipapp, and the hidden entries that skip the CLI."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tightrope import APP_MARK
from tightrope.box import run
from tightrope.cli.main import build_parser
from tightrope.remote import ssh, zipapp

SHA = "ab" * 32


def test_preflight_reads_the_tree_it_made() -> None:
    line = f"tightrope-preflight uid=0 python=1 sudo=root sha={SHA} ready={SHA}\n"
    found = ssh.parse_preflight("motd noise\n" + line)
    assert found is not None
    assert (found.sha256, found.ready) == (SHA, SHA)
    none = ssh.parse_preflight("tightrope-preflight uid=1000 python=1 sudo=password sha= ready=")
    assert none is not None and none.ready == "" and none.sha256 == ""


def test_preflight_refuses_a_forged_ready_value() -> None:
    assert ssh.parse_preflight(f"tightrope-preflight uid=0 python=1 sudo=root sha={SHA} "
                               "ready=$(reboot)") is None  # fmt: skip


def test_the_tree_sits_beside_the_zipapp() -> None:
    assert ssh.tree_of("/var/cache/tightrope/tightrope-0123.pyz") == (
        "/var/cache/tightrope/tightrope-0123")
    script = ssh.preflight_script("/var/cache/tightrope/tightrope-0123.pyz")
    assert f"/var/cache/tightrope/tightrope-0123/{ssh.READY}" in script


def _app(tmp: Path) -> Path:
    pyz = tmp / "tightrope-x.pyz"
    with zipfile.ZipFile(pyz, "w") as z:
        z.writestr("__main__.py", "import hello\nprint(hello.WORD)\n")
        z.writestr("hello.py", "WORD = 'from the tree'\n")
        z.writestr(APP_MARK, "app\n")
    return pyz


def test_unpack_compiles_the_tree_and_marks_it_ready(tmp_path: Path) -> None:
    pyz = _app(tmp_path)
    tree = ssh.tree_of(str(pyz))
    argv = [sys.executable, "-c", zipapp.UNPACK_SCRIPT, str(pyz), tree, SHA, ssh.READY]
    subprocess.run(argv, check=True)
    assert (Path(tree) / ssh.READY).read_text() == SHA
    assert list((Path(tree) / "__pycache__").glob("hello.*.pyc"))
    out = subprocess.run([sys.executable, tree], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "from the tree"
    # Again (a newer copy of the same build): replaced whole, nothing half-made left behind.
    subprocess.run(argv, check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tightrope-x", "tightrope-x.pyz"]


def test_the_runner_entry_refuses_what_tightrope_never_sends() -> None:
    assert run.main(["_txn-run", "20261129-101010-abcd"]) == 2
    assert run.main(["_txn-run", "../../etc", "--root", "/tmp"]) == 2
    assert run.main(["_txn-run", "20261129-101010-abcd", "--state", "/tmp"]) == 2


def test_hidden_entries_are_not_commands() -> None:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert sub.choices is not None
    assert not [name for name in sub.choices if name.startswith("_")]
