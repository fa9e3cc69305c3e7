"""The Ansible collection tightrope.network: its version, its build, ansible-test sanity and
units, and the journey role end to end against a stand-in zipapp (no VM; see
tests/lab/test_ansible_lab.py for the real boxes)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipapp
from pathlib import Path

import pytest
import yaml

from tests.ansible.playbook import COLLECTION_SRC, EXAMPLES, ROOT, build_and_install, playbook, tool

PY = f"{sys.version_info.major}.{sys.version_info.minor}"
FAKE = Path(__file__).resolve().parent / "fake_tightrope.py"
GET_PIP_STANDIN = Path(__file__).resolve().parent / "get_pip_standin.py"
PROTO = ROOT / "src" / "tightrope" / "proto.py"
COLLECTION_PROTO = COLLECTION_SRC / "plugins" / "module_utils" / "proto.py"
GOOD_PSK = "good-psk-in-the-test"


def _pyproject_version() -> str:
    m = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(), re.M)
    assert m
    return m.group(1)


def test_the_collection_version_is_tightropes() -> None:
    galaxy = yaml.safe_load((COLLECTION_SRC / "galaxy.yml").read_text())
    assert galaxy["version"] == _pyproject_version(), "galaxy.yml and pyproject.toml disagree"


def test_the_collections_protocol_is_tightropes_byte_for_byte() -> None:
    """module_utils/proto.py is a committed copy (ansible-test and the unit tests need it in
    the tree); scripts/build-collection copies src/tightrope/proto.py over it anyway."""
    assert COLLECTION_PROTO.read_bytes() == PROTO.read_bytes(), (
        f"{COLLECTION_PROTO.relative_to(ROOT)} differs from {PROTO.relative_to(ROOT)}: "
        f"cp {PROTO.relative_to(ROOT)} {COLLECTION_PROTO.relative_to(ROOT)}")


def test_no_built_artifact_in_the_source_tree() -> None:
    assert not list(COLLECTION_SRC.rglob("*.pyz")) and not list(COLLECTION_SRC.rglob("*.tar.gz"))


@pytest.fixture(scope="module")
def collections(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_and_install(tmp_path_factory.mktemp("collection"))


def test_the_build_carries_this_checkouts_zipapp(collections: Path) -> None:
    (tarball,) = (collections.parent / "dist").glob("tightrope-network-*.tar.gz")
    with tarfile.open(tarball) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    assert manifest["collection_info"]["version"] == _pyproject_version()
    pyz = [n for n in names if re.fullmatch(r"files/tightrope-[0-9a-f]{16}\.pyz", n)]
    assert len(pyz) == 1, names
    for module in ("bond", "confirm", "facts"):
        assert f"plugins/modules/{module}.py" in names and f"plugins/action/{module}.py" in names
    assert "roles/journey/tasks/main.yml" in names
    with tarfile.open(tarball) as tar:
        shipped = tar.extractfile("plugins/module_utils/proto.py")
        assert shipped is not None and shipped.read() == PROTO.read_bytes()
    assert not [n for n in names if "tests/output" in n or n.endswith(".pyc")]
    # What the box gets is runnable tightrope.
    installed = collections / "ansible_collections" / "tightrope" / "network" / pyz[0]
    # As root the zipapp compiles itself into its cache at the first start: a temporary one.
    env = {**os.environ, "TIGHTROPE_CACHE_DIR": str(collections.parent / "box-cache")}
    cp = subprocess.run([sys.executable, str(installed), "--version"], capture_output=True,
                        text=True, timeout=60, env=env)  # fmt: skip
    assert cp.stdout.strip() == f"tightrope {_pyproject_version()}", cp.stderr


# -- ansible-test ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ansible_test_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The collection where ansible-test wants it: under .../ansible_collections/NS/NAME."""
    root = tmp_path_factory.mktemp("at") / "ansible_collections" / "tightrope" / "network"
    shutil.copytree(COLLECTION_SRC, root, ignore=shutil.ignore_patterns("__pycache__", "output"))
    # One ignore file serves every ansible-core release we run under.
    sanity = root / "tests" / "sanity"
    core = subprocess.run([tool("ansible"), "--version"], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    m = re.search(r"core (\d+\.\d+)", core)
    assert m, core
    mine = sanity / f"ignore-{m.group(1)}.txt"
    if not mine.exists():
        shutil.copy(sanity / "ignore-2.19.txt", mine)
    _ensure_pip_bootstrap()
    return root


def _ensure_pip_bootstrap() -> None:
    """ansible-test bootstraps pip in its virtual environments with a get-pip.py it downloads
    from a host outside the registries this project reaches; its error message says to save
    one by hand in ~/.ansible/test/cache. Put the offline stand-in there unless one exists."""
    import ansible_test

    reqs = Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
    m = re.search(r"pip='([\d.]+)'", reqs.read_text())
    version = m.group(1) if m else "24.2"
    cache = Path.home() / ".ansible" / "test" / "cache" / f"get_pip_{version.replace('.', '_')}.py"
    if not cache.exists():
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(GET_PIP_STANDIN, cache)


def _ansible_test(tree: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([tool("ansible-test"), *args, "--python", PY, "--color", "no"],
                          cwd=tree, capture_output=True, text=True, timeout=1200)  # fmt: skip


def test_ansible_test_sanity(ansible_test_tree: Path) -> None:
    cp = _ansible_test(ansible_test_tree, "sanity")
    out = cp.stdout + cp.stderr
    assert cp.returncode == 0, "\n".join(line for line in out.splitlines()
                                         if "ERROR" in line or "FATAL" in line)[-6000:]  # fmt: skip


def test_ansible_test_units(ansible_test_tree: Path) -> None:
    # --venv: pytest-xdist, pytest-mock and mock go into ansible-test's own environment.
    cp = _ansible_test(ansible_test_tree, "units", "--venv", "--requirements")
    assert cp.returncode == 0, (cp.stdout + cp.stderr)[-6000:]
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", cp.stdout))
    assert passed >= 30 and " failed" not in cp.stdout, cp.stdout[-3000:]


# -- the journey role against the stand-in zipapp ----------------------------------------------


def _fake_pyz(dest: Path) -> None:
    """The stand-in zipapp: fake_tightrope.py as __main__, the collection's proto beside it."""
    with tempfile.TemporaryDirectory() as src:
        shutil.copy(FAKE, Path(src) / "__main__.py")
        shutil.copy(COLLECTION_PROTO, Path(src) / "proto.py")
        zipapp.create_archive(src, dest)


def _inventory(tmp: Path, order: tuple[str, str] = ("good", "bad")) -> Path:
    """Two hosts on the local connection, each with its own stand-in box; 'bad' has a PSK the
    stand-in rolls back, as a box whose wlan0 cannot associate does. The first is the canary."""
    boxes = {"good": ("198.18.1.64/24", GOOD_PSK), "bad": ("198.18.1.65/24", "wrong-psk")}
    hosts = {}
    for name in order:
        address, psk = boxes[name]
        box = tmp / name
        box.mkdir()
        _fake_pyz(box / "tightrope-fake.pyz")
        hosts[name] = {"tightrope_pyz": str(box / "tightrope-fake.pyz"),
                       "tightrope_cache_dir": str(box / "cache"),
                       "tightrope_address": address, "tightrope_psk": psk}  # fmt: skip
    inventory = {"boxes": {"hosts": hosts, "vars": {
        "ansible_connection": "local",
        "ansible_python_interpreter": sys.executable,
        "tightrope_find_box": False,  # a local "box" has no address to look for
        "tightrope_rollback_wait": 10,
        "tightrope_gateway": "198.18.1.1",
        "tightrope_dns": ["198.18.1.1"],
        "tightrope_ports": {"eth0": {"type": "ethernet"},
                            "wlan0": {"type": "wifi", "ssid": "TightropeLab"}},
    }}}  # fmt: skip
    path = tmp / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False))  # host order = batch order
    return path


def _txns(tmp: Path, host: str) -> dict[str, dict[str, object]]:
    state = json.loads((tmp / host / "cache" / "fake-state.json").read_text())
    txns: dict[str, dict[str, object]] = state["txns"]
    return txns


def test_journey_role_commits_one_host_and_reports_the_others_rollback(
    collections: Path, tmp_path: Path
) -> None:
    inv = _inventory(tmp_path)
    book = str(EXAMPLES / "bond.yml")
    first = playbook(["-i", str(inv), book, "--diff"], collections=collections, workdir=tmp_path)
    assert first.rc == 2, first.stdout[-4000:] + first.stderr[-2000:]  # 2: a host failed
    recap = first.recap()
    assert recap["good"]["failed"] == 0 and recap["good"]["changed"] >= 1
    assert recap["bad"]["failed"] == 1 and recap["bad"]["rescued"] == 1

    good = first.journey("good")
    assert good["outcome"] == "committed" and good["address"] == "198.18.1.64"
    assert first.last("good", "Confirm (commit)")["result"]["outcome"] == "committed"
    bad = first.journey("bad")
    assert bad["outcome"] == "rolled-back" and "wrong PSK" in bad["reason"]
    assert bad["address"] == "bad"  # back where it was
    failed = first.last("bad", "Fail the host")
    assert failed["status"] == "failed" and failed["result"]["msg"].startswith("rolled-back: ")
    # The canary went first, alone: the bad box was only touched in the second batch.
    bond_tasks = [r["host"] for r in first.records if r["action"] == "tightrope.network.bond"]
    assert bond_tasks == ["good", "bad"]
    assert "+ add bond0 (bond0)" in first.stdout  # --diff shows the plan's changes

    for host, psk in (("good", GOOD_PSK), ("bad", "wrong-psk")):
        argv_log = (tmp_path / host / "cache" / "fake-argv.log").read_text()
        assert psk not in argv_log, "the PSK was in an argv on the box"
        requests = json.loads((tmp_path / host / "cache" / "fake-state.json").read_text())
        assert requests["requests"][-1]["psk"] == {"wlan0": psk}  # it came on stdin
    assert GOOD_PSK not in first.stdout + first.stderr + json.dumps(first.records)

    # Idempotence: the same play again changes nothing on the host that committed.
    again = playbook(["-i", str(inv), book, "--limit", "good"], collections=collections,
                     workdir=tmp_path)  # fmt: skip
    assert again.rc == 0, again.stdout[-4000:]
    assert again.recap()["good"]["changed"] == 0
    assert again.journey("good")["outcome"] == "no-change"
    assert len(_txns(tmp_path, "good")) == 1

    # Check mode on the other: the plan and its diff, and no transaction started.
    check = playbook(["-i", str(inv), book, "--limit", "bad", "--check", "--diff"],
                     collections=collections, workdir=tmp_path)  # fmt: skip
    assert check.rc == 0, check.stdout[-4000:]
    assert check.journey("bad")["outcome"] == "would-change"
    assert "+ add bond0 (bond0)" in check.stdout
    assert len(_txns(tmp_path, "bad")) == 1


def test_a_failed_canary_stops_the_fleet(collections: Path, tmp_path: Path) -> None:
    inv = _inventory(tmp_path, order=("bad", "good"))
    run = playbook(["-i", str(inv), str(EXAMPLES / "bond.yml")], collections=collections,
                   workdir=tmp_path)  # fmt: skip
    assert run.rc == 2, run.stdout[-3000:]
    assert run.journey("bad")["outcome"] == "rolled-back"
    assert "good" not in run.recap()  # never touched: max_fail_percentage 0 ended the play
    assert not (tmp_path / "good" / "cache").exists()


def test_facts_and_a_missing_zipapp(collections: Path, tmp_path: Path) -> None:
    inv = _inventory(tmp_path)
    book = tmp_path / "facts.yml"
    book.write_text(yaml.safe_dump([{
        "hosts": "good", "gather_facts": False,
        "tasks": [{"name": "facts", "tightrope.network.facts": {}},
                  {"name": "no zipapp", "tightrope.network.facts": {}, "ignore_errors": True,
                   "vars": {"tightrope_pyz": str(tmp_path / "missing.pyz")}}],
    }]))  # fmt: skip
    run = playbook(["-i", str(inv), str(book)], collections=collections, workdir=tmp_path)
    assert run.rc == 0, run.stdout[-3000:]
    facts = run.last("good", "facts")["result"]["ansible_facts"]["tightrope"]
    assert facts["storage_world"] == "netplan" and facts["bond"] is None
    assert run.last("good", "facts")["result"]["pyz"]["sent"] is True
    missing = run.last("good", "no zipapp")
    assert missing["status"] == "ignored" and "no such file" in missing["result"]["msg"]
