"""Running the collection as a user would: built with scripts/build-collection, installed into a
collections path, driven by ansible-playbook; results read from a recording callback."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
COLLECTION_SRC = ROOT / "ansible" / "tightrope" / "network"
EXAMPLES = ROOT / "ansible" / "examples"
CALLBACKS = Path(__file__).resolve().parent / "callback"


def tool(name: str) -> str:
    """An Ansible command from the interpreter running the tests (where pip put ansible-core)."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        raise AssertionError(f"{name} is missing: pip install -e '.[dev]' (ansible-core)")
    return found


def build_and_install(dest: Path) -> Path:
    """scripts/build-collection into dest; returns the collections path it installed into."""
    cp = subprocess.run(
        [str(ROOT / "scripts" / "build-collection"), "--output", str(dest / "dist"),
         "--install", str(dest / "collections")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert cp.returncode == 0, cp.stderr[-3000:]
    tarball = Path(cp.stdout.strip().splitlines()[-1])
    assert tarball.is_file(), cp.stdout
    return dest / "collections"


@dataclass
class Run:
    rc: int
    stdout: str
    stderr: str
    records: list[dict[str, Any]] = field(default_factory=list)

    def results(self, host: str, task: str) -> list[dict[str, Any]]:
        """Every record of host whose task name contains task."""
        return [r for r in self.records if r["host"] == host and task in r["task"]]

    def last(self, host: str, task: str) -> dict[str, Any]:
        found = self.results(host, task)
        assert found, f"no result of {task!r} for {host}:\n{self.stdout[-4000:]}"
        return found[-1]

    def recap(self) -> dict[str, dict[str, int]]:
        """PLAY RECAP: host -> {ok, changed, unreachable, failed, skipped, rescued, ignored}."""
        out: dict[str, dict[str, int]] = {}
        for m in re.finditer(r"^(\S+)\s+: ((?:\w+=\d+\s*)+)$", self.stdout, re.M):
            out[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(2))}
        return out

    def journey(self, host: str) -> dict[str, Any]:
        """The role's own summary of how the host ended."""
        rec = [r["result"]["ansible_facts"]["tightrope_journey"] for r in self.records
               if r["host"] == host and r["status"] == "ok"
               and "tightrope_journey" in r["result"].get("ansible_facts", {})]  # fmt: skip
        assert rec, f"no outcome recorded for {host}:\n{self.stdout[-4000:]}"
        journey: dict[str, Any] = rec[-1]
        return journey


def playbook(
    argv: list[str],
    *,
    collections: Path,
    workdir: Path,
    prefix: list[str] | None = None,
    timeout: float = 600,
    env: dict[str, str] | None = None,
) -> Run:
    """ansible-playbook argv, optionally inside a wrapper (e.g. `ip netns exec NS`)."""
    record = workdir / f"record-{len(list(workdir.glob('record-*')))}.jsonl"
    full_env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections),
        "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
        "ANSIBLE_CALLBACKS_ENABLED": "record",
        "TIGHTROPE_RECORD": str(record),
        "ANSIBLE_SHOW_CUSTOM_STATS": "1",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_HOST_KEY_CHECKING": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCAL_TEMP": str(workdir / "ansible-tmp"),
        **(env or {}),
    }
    cp = subprocess.run([*(prefix or []), tool("ansible-playbook"), *argv], cwd=workdir,
                        env=full_env, capture_output=True, text=True, timeout=timeout)  # fmt: skip
    records = []
    if record.exists():
        records = [json.loads(line) for line in record.read_text().splitlines()]
    return Run(cp.returncode, cp.stdout, cp.stderr, records)
