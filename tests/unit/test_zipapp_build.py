"""The laptop's zipapp: built once per set of sources, reused while they are unchanged."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tightrope.remote.zipapp import BUILD_FILE, READY, _quick_key, build


def test_the_archive_is_reused_while_the_sources_are_unchanged(tmp_path: Path) -> None:
    first = build(tmp_path)
    made = first.stat().st_mtime_ns
    again = build(tmp_path)
    assert again == first and again.stat().st_mtime_ns == made
    assert len(list(tmp_path.glob("sources-*"))) == 1
    # An index naming an archive that is gone is no reason to fail: it is built again.
    first.unlink()
    assert build(tmp_path) == first and first.is_file()


def test_the_quick_key_follows_every_source_file_but_compiled_ones(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    mod = pkg / "mod.py"
    mod.write_text("x = 1\n")
    key = _quick_key([pkg])
    (pkg / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"compiled")
    (pkg / "fast.so").write_bytes(b"elf")
    assert _quick_key([pkg]) == key
    mod.write_text("x = 2\n")  # same size, new content: a new change time
    st = mod.stat()
    os.utime(mod, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert _quick_key([pkg]) != key


def _start(pyz: Path, cache: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIGHTROPE_CACHE_DIR": str(cache)}
    env.pop("PYTHONPATH", None)  # the archive's own tightrope, not this checkout's
    return subprocess.run([sys.executable, *flags, str(pyz), "--version"], capture_output=True,
                          text=True, env=env, check=True, cwd=cache.parent)  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="only root makes the box's compiled tree")
def test_the_zipapp_compiles_itself_once_and_then_runs_compiled(tmp_path: Path) -> None:
    pyz = build(tmp_path / "out")
    cache = tmp_path / "cache"
    first = _start(pyz, cache)
    assert "compiling this build for this box, once" in first.stderr
    build_id = pyz.stem.removeprefix("tightrope-")
    tree = cache / f"tightrope-{build_id}"
    assert (tree / BUILD_FILE).read_text().strip() == build_id
    assert len((tree / READY).read_text()) == 64
    assert list((tree / "tightrope" / "__pycache__").glob("errors.*.pyc"))
    assert list((tree / "yaml" / "__pycache__").glob("*.pyc"))
    assert not list((tree / "rich").rglob("*.pyc"))  # left to compile as it is imported
    again = _start(pyz, cache, "-v")
    assert "compiling" not in again.stderr
    assert f"{tree}/tightrope/__pycache__/errors." in again.stderr  # imported compiled
    assert again.stdout == first.stdout


def test_a_tree_anyone_could_have_written_is_not_run(tmp_path: Path) -> None:
    pyz = build(tmp_path / "out")
    cache = tmp_path / "cache"
    tree = cache / pyz.stem
    (tree / "tightrope").mkdir(parents=True)
    (tree / READY).write_text("0" * 64)
    (tree / "tightrope" / "__init__.py").write_text("raise SystemExit('planted')\n")
    cache.chmod(0o777)
    got = _start(pyz, cache)
    assert "planted" not in got.stderr and got.stdout.startswith("tightrope")
    assert "compiling" not in got.stderr  # nor made there


def test_the_same_sources_make_the_same_bytes(tmp_path: Path) -> None:
    # The box's compiled tree is recognised by the archive's SHA-256: a build made elsewhere
    # (the laptop's, the Ansible collection's) must be byte for byte the one the box has.
    first = build(tmp_path / "a")
    second = build(tmp_path / "b")
    assert first.name == second.name
    assert first.read_bytes() == second.read_bytes()
    # Not only because both were built within zip's two-second time resolution:
    with zipfile.ZipFile(first) as archive:
        assert len({member.date_time for member in archive.infolist()}) == 1


def test_the_box_s_rich_paths_run_from_an_archive_without_rich_s_own_dependencies(
    tmp_path: Path,
) -> None:
    """The archive leaves out pygments and markdown-it (rich.syntax, rich.markdown and
    rich.traceback import them; tightrope none of those). What rich draws on a box, run
    from the archive alone: a plan's table, a status, an error."""
    pyz = build(tmp_path / "out")
    with zipfile.ZipFile(pyz) as archive:
        tops = {member.filename.split("/")[0] for member in archive.infolist()}
    assert {"tightrope", "yaml", "rich"} <= tops
    assert not tops & {"pygments", "markdown_it", "mdurl"}
    config = tmp_path / "bond.yaml"
    config.write_text("ports:\n  eth0: {type: ethernet}\n  wlan0: {type: wifi, ssid: Lab, "
                      "psk: \"correct horse\"}\nipv4:\n  addresses: [198.18.1.64/24]\n"
                      "  gateway: 198.18.1.1\n")  # fmt: skip
    config.chmod(0o600)
    snap = str(Path(__file__).parents[1] / "fixtures" / "snapshots" / "netplan-start.json")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TIGHTROPE_CACHE_DIR"] = str(tmp_path / "cache")
    runs = ((["plan", str(config), "--from-snapshot", snap], (0, 10), "Plan for bond0"),
            (["status", "--from-snapshot", snap], (0,), "NetworkManager 1.42.4"),
            (["plan", "absent.yaml"], (3,), "cannot read absent.yaml"))  # fmt: skip
    for argv, codes, says in runs:
        # -I -S: nothing but the archive and the standard library (no site-packages).
        cp = subprocess.run([sys.executable, "-I", "-S", str(pyz), *argv], capture_output=True,
                            text=True, env=env, cwd=tmp_path, check=False)  # fmt: skip
        assert cp.returncode in codes, (argv, cp.returncode, cp.stderr[-2000:])
        assert says in cp.stdout + cp.stderr and "Traceback" not in cp.stderr, cp.stderr
