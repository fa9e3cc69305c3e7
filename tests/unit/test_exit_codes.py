"""Every exit code the README documents is the code a real path produces, and no other."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.builders import netplan_start
from tests.unit.fakebox import FakeBox, FakeClock
from tests.unit.test_plan import seed_config
from tightrope import proto
from tightrope.box import app
from tightrope.box.env import BoxEnv
from tightrope.cli.main import main
from tightrope.core.config import Sources, parse_config
from tightrope.errors import Exit, TightropeError, exit_for_outcome
from tightrope.remote.sshfail import classify
from tightrope.txn.state import Store

README = Path(__file__).resolve().parents[2] / "README.md"


def documented() -> dict[int, str]:
    text = README.read_text()
    table = text[text.index("### Exit codes") : text.index("### How the laptop")]
    return {int(m.group(1)): m.group(2) for m in re.finditer(r"^\| (\d+) \| (.+) \|$", table,
                                                                 re.M)}  # fmt: skip


def test_the_readme_documents_exactly_the_codes_there_are() -> None:
    assert set(documented()) == {int(e) for e in Exit}


def _env(tmp: Path, root: bool = True) -> BoxEnv:
    fake = FakeBox(netplan_start())

    def require_root() -> None:
        if not root:
            from tightrope.errors import NotRoot

            raise NotRoot("changing the network needs root on the box")

    return BoxEnv(store=Store(tmp), clock=FakeClock(), boot_id=lambda: "b",
                  read_snapshot=lambda s: fake.snapshot(include_secrets=s),
                  launch=lambda t, s: None, require_root=require_root)  # fmt: skip


def _code(action: Callable[[], object]) -> int:
    try:
        result = action()
    except TightropeError as exc:
        return int(exc.exit_code)
    return int(result) if isinstance(result, int) else 0


def _busy(tmp: Path) -> object:
    env = _env(tmp)
    planned = app.plan(env, seed_config())
    app.start(env, seed_config(), proto.Options(), planned.fingerprint)
    return app.plan(env, seed_config())


def _plan_changed(tmp: Path) -> object:
    return app.start(_env(tmp), seed_config(), proto.Options(), "not-the-agreed-plan")


def _invalid() -> object:
    return parse_config({"bond": "bond0", "ports": {}}, Sources(resolve_psk=False))


def _lab() -> object:
    from tightrope.errors import LabError

    raise LabError("no QEMU")


def _interrupt() -> int:
    return int(Exit.INTERRUPTED)  # main() maps KeyboardInterrupt here


PATHS: dict[int, Callable[[Path], object]] = {
    0: lambda tmp: int(exit_for_outcome("committed")),
    1: lambda tmp: int(exit_for_outcome("rolled-back")),
    2: lambda tmp: main(["log", "not-an-id"]),
    3: lambda tmp: _invalid(),
    4: lambda tmp: classify(255, b"ssh: connect to host x port 22: Connection refused", "x")
    .exit_code,
    5: _busy,
    6: lambda tmp: app.plan(_env(tmp, root=False), seed_config()),
    7: lambda tmp: _lab(),
    8: lambda tmp: classify(255, b"root@x: Permission denied (publickey).", "x").exit_code,
    9: lambda tmp: classify(255, b"Host key verification failed.", "x").exit_code,
    10: lambda tmp: int(Exit.OK if app.plan_only(_env(tmp), seed_config()).plan.no_change
                        else Exit.CHANGES),
    11: lambda tmp: classify(127, b"sh: python3: not found", "x").exit_code,
    12: _plan_changed,
    130: lambda tmp: _interrupt(),
}


@pytest.mark.parametrize("code", sorted(documented()))
def test_each_documented_code_comes_from_a_real_path(code: int, tmp_path: Path) -> None:
    assert _code(lambda: PATHS[code](tmp_path)) == code


def test_troubleshooting_covers_every_exit_code() -> None:
    text = (Path(__file__).parents[2] / "docs" / "troubleshooting.md").read_text()
    for code in Exit:
        assert f"\n## {int(code)}: " in text, code
