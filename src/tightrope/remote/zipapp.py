"""tightrope as one file for the box: a zipapp with its pure-Python dependencies.

Built from the packages installed beside this tightrope (no download), keeping only Python
sources: compiled extensions cannot load from a zip, and PyYAML falls back to its
pure-Python code there, which is also what an ARM box without wheels would run.
The archive name carries a hash of its content, so the box can cache it by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import os
import shutil
import sys
import tempfile
import zipapp
from pathlib import Path

from tightrope import APP_MARK

# Import names of tightrope's runtime dependencies, all pure Python in a zip. Not rich's own
# pygments, markdown-it and mdurl: only rich.syntax, rich.markdown and rich.traceback import
# them, and tightrope imports none of those (tests/unit/test_zipapp_build.py runs the box's
# rich paths from an archive without them). They were 1.2 of the archive's 1.9 MB, and 428
# of its 686 entries that every start from the zipapp indexes.
DEPENDENCIES = ("yaml", "rich")
OPTIONAL = ("typing_extensions",)  # rich imports it on Pythons older than it needs
_SKIP_SUFFIXES = (".so", ".pyd", ".pyc", ".pyx", ".pxd", ".c", ".h")


# Where a box keeps each build unpacked and compiled (a zipapp cannot cache bytecode, so each
# start recompiles every module it imports: 3.6-6.2 s for the agent on the lab box under
# emulation, 1.2-1.3 s from the compiled tree), and the file that says a tree is complete:
# it holds the zipapp's SHA-256.
CACHE_DIR = "/var/cache/tightrope"
READY = ".tightrope-ready"
BUILD_FILE = ".tightrope-build"  # in the archive: its content hash, the tree's name

# Unpack and compile, then move the tree into place only when complete. Only tightrope and
# PyYAML, which every command imports, are compiled up front: rich (the plan's table, drawn
# on the box only by a box-side plan or apply) is compiled as root first imports it, module
# by module. Compiling the whole tree (pygments and markdown-it still in it) made
# the zipapp's first start take 19.6 s on the emulated box (status after it: 3.2 s). Shared by
# the laptop's shipping (remote/ssh.py runs it with `python3 -c`; the agent there never
# imports rich) and the zipapp's own start (below), so both make the very same tree.
UNPACK = """\
def unpack(pyz, tree, sha, ready):
    import compileall, hashlib, os, re, shutil, tempfile, time, zipfile
    top = os.path.dirname(tree)
    mask = os.umask(0o022)
    try:
        os.makedirs(top, mode=0o755, exist_ok=True)
        if sha == "-":
            with open(pyz, "rb") as f:
                sha = hashlib.sha256(f.read()).hexdigest()
        tmp = tempfile.mkdtemp(dir=top, prefix=".unpack-")
        try:
            zipfile.ZipFile(pyz).extractall(tmp)
            lazy = re.compile(r"[/\\\\]rich[/\\\\]")
            if not compileall.compile_dir(tmp, quiet=2, rx=lazy):
                return False
            with open(os.path.join(tmp, ready), "w") as f:
                f.write(sha)
            os.chmod(tmp, 0o755)
            old = tree + ".old"
            shutil.rmtree(old, ignore_errors=True)
            if os.path.isdir(tree):
                os.rename(tree, old)
            os.rename(tmp, tree)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        # Other versions' copies go once unused for a week: an SD card is small, and a
        # laptop still on an older version just sends its copy again.
        for n in os.listdir(top):
            f = os.path.join(top, n)
            if n.startswith("tightrope-") and f not in (tree, pyz) and \\
                    time.time() - os.stat(f).st_atime > 7 * 86400:
                shutil.rmtree(f, ignore_errors=True) if os.path.isdir(f) else os.unlink(f)
        return True
    finally:
        os.umask(mask)
"""
# `python3 -c UNPACK_SCRIPT PYZ TREE SHA READY` (SHA "-": hash PYZ): exit 0 once the tree is in
# place.
UNPACK_SCRIPT = UNPACK + "import sys\nsys.exit(0 if unpack(*sys.argv[1:5]) else 1)\n"

# The archive's own start. It checks the Python first: older ones cannot even import
# tightrope, and the laptop tells this exit code (97, remote.sshfail.PYTHON_TOO_OLD) from any
# other failure. Then it runs from this build's compiled tree if the box has one (made by
# root, writable by nobody else), and root makes it at the first start (the laptop's agent
# always came that way; a box-side `tightrope status` or `apply` from the zipapp paid the
# recompilation at every start, and the transaction runner it launched paid it again).
_MAIN = (
    """\
import os, sys
if sys.version_info < (3, 10):
    sys.stderr.write("tightrope needs Python 3.10+, this is %d.%d\\n" % sys.version_info[:2])
    sys.exit(97)
"""
    + f"CACHE = os.environ.get('TIGHTROPE_CACHE_DIR', {CACHE_DIR!r})\n"
    + f"READY, BUILD = {READY!r}, {BUILD_FILE!r}\n"
    + UNPACK
    + """\


def _safe(path):
    st = os.stat(path)
    return st.st_uid in (0, os.geteuid()) and not st.st_mode & 0o022


def _compiled(here):
    try:
        build = __loader__.get_data(os.path.join(here, BUILD)).decode().strip()
    except (OSError, AttributeError):
        return None
    tree = os.path.join(CACHE, "tightrope-" + build)
    if os.path.realpath(here) == os.path.realpath(tree):
        return None
    try:
        if os.path.isdir(CACHE) and not _safe(CACHE):
            return None  # another user could swap what is in it: run from the archive
        if os.path.isfile(os.path.join(tree, READY)) and _safe(tree):
            return tree
    except OSError:
        return None
    if os.geteuid() != 0 or not os.path.isfile(here):
        return None
    sys.stderr.write("tightrope: compiling this build for this box, once, into %s\\n" % tree)
    try:
        return tree if unpack(here, tree, "-", READY) else None
    except OSError:
        return None


_tree = _compiled(sys.path[0])
if _tree:
    sys.path[0] = _tree
from tightrope.cli.main import main
sys.exit(main())
"""
)


def _source_of(name: str) -> Path:
    # Found, not imported: importing rich cost the laptop's start-up for nothing.
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ImportError(name)
    places = list(spec.submodule_search_locations or [])
    return Path(places[0]) if places else Path(str(spec.origin))


def _sources() -> list[Path]:
    found = [_source_of(name) for name in ("tightrope", *DEPENDENCIES)]
    for name in OPTIONAL:
        with contextlib.suppress(ImportError):
            found.append(_source_of(name))
    return found


def _skipped(name: str) -> bool:
    return name == "__pycache__" or name.endswith(_SKIP_SUFFIXES)


def _quick_key(sources: list[Path]) -> str:
    """What the sources look like to stat(): names, sizes and change times. The same key
    means the same archive, so it is reused without copying and hashing every file again
    (0.25 s of each `--host` command's start on this host, before any packet went out)."""
    h = hashlib.sha256(_MAIN.encode())
    for src in sources:
        files = [src] if src.is_file() else sorted(
            p for p in src.rglob("*")
            if p.is_file() and not any(_skipped(part) for part in p.relative_to(src).parts))
        for path in files:
            st = path.stat()
            h.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\n".encode())
    return h.hexdigest()[:16]


def _copy(src: Path, dest: Path) -> None:
    if src.is_file():
        shutil.copy2(src, dest / src.name)
        return

    def ignore(_dir: str, names: list[str]) -> list[str]:
        return [n for n in names if _skipped(n)]

    shutil.copytree(src, dest / src.name, ignore=ignore)


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


# Every member's time in the archive (zip cannot say 1970; noon keeps any time zone's local
# date valid). The same sources then make the same bytes wherever and whenever they are built,
# so the box recognises a build the laptop made as the one it compiled already.
_MEMBER_TIME = 946728000  # 2000-01-01 12:00 UTC


def _same_times(stage: Path) -> None:
    for path in stage.rglob("*"):
        os.utime(path, (_MEMBER_TIME, _MEMBER_TIME), follow_symlinks=False)


def build(out_dir: Path) -> Path:
    """Build (or reuse) the zipapp in out_dir; returns its path, named by content hash."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = _sources()
    index = out_dir / f"sources-{_quick_key(sources)}"
    with contextlib.suppress(OSError):
        known = out_dir / index.read_text().strip()
        if known.name.startswith("tightrope-") and known.is_file():
            return known
    with tempfile.TemporaryDirectory(prefix="tightrope-pyz-") as tmp:
        stage = Path(tmp) / "app"
        stage.mkdir()
        for src in sources:
            _copy(src, stage)
        # Lab assets (disk recipes) are of no use on a box.
        shutil.rmtree(stage / "tightrope" / "lab" / "assets", ignore_errors=True)
        # Our own __main__ (zipapp's generated one would drop the exit code).
        (stage / "__main__.py").write_text(_MAIN)
        (stage / APP_MARK).write_text("tightrope run from a zipapp or its unpacked tree\n")
        digest = _tree_hash(stage)
        (stage / BUILD_FILE).write_text(digest + "\n")  # after the hash: it names it
        _same_times(stage)
        target = out_dir / f"tightrope-{digest}.pyz"
        if not target.exists():
            partial = target.with_suffix(".partial")
            zipapp.create_archive(
                stage, partial, interpreter="/usr/bin/env python3", compressed=True
            )
            partial.replace(target)
    partial_index = index.with_suffix(".partial")
    partial_index.write_text(target.name + "\n")
    partial_index.replace(index)
    return target


if __name__ == "__main__":
    print(build(Path(sys.argv[1] if len(sys.argv) > 1 else ".")))
