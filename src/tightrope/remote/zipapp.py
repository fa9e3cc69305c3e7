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
import shutil
import sys
import tempfile
import zipapp
from pathlib import Path

from tightrope import APP_MARK

# Import names of tightrope's runtime dependencies (and theirs), all pure Python in a zip.
DEPENDENCIES = ("yaml", "rich", "markdown_it", "mdurl", "pygments")
OPTIONAL = ("typing_extensions",)  # rich imports it on Pythons older than it needs
_SKIP_SUFFIXES = (".so", ".pyd", ".pyc", ".pyx", ".pxd", ".c", ".h")


_MAIN = """\
import sys
if sys.version_info < (3, 10):
    sys.stderr.write("tightrope needs Python 3.10+, this is %d.%d\\n" % sys.version_info[:2])
    sys.exit(97)
from tightrope.cli.main import main
sys.exit(main())
"""


def _source_of(name: str) -> Path:
    # Found, not imported: importing rich and pygments cost the laptop's start-up for nothing.
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
        # It checks the Python first: older ones cannot even import tightrope, and the laptop
        # tells this exit code (97, remote.sshfail.PYTHON_TOO_OLD) from any other failure.
        (stage / "__main__.py").write_text(_MAIN)
        (stage / APP_MARK).write_text("tightrope run from a zipapp or its unpacked tree\n")
        digest = _tree_hash(stage)
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
