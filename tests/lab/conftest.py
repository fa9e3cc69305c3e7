"""Fixtures for tests that run against the VM lab (see docs/lab.md).

Mark such tests `@pytest.mark.lab`; `TIGHTROPE_SKIP_LAB=1` skips them. Otherwise they run, and
the first one builds the image if the recipe changed (about 75 s) and boots the box it needs.

Session-scoped (booted once, on first use; removed at the end of the session, on Ctrl-C or
SIGTERM, and by the next session if this one crashed):
- `lab_image`: the built image (`tightrope.lab.image.Image`).
- `netplan_lab`, `rpios_lab`, `trixie_lab`: a `tightrope.lab.Lab` with one box (`lab.box`) in
  that start state (the netplan lab has a second, `lab.boxes[1]`, for the fleet tests), settled
  (SSH answers, eth0 and wlan0 connected, wlan0 associated), this session's zipapp at
  /root/tightrope.pyz and compiled in /var/cache/tightrope as its first start as root leaves
  it, with the snapshot "pristine" saved. A test of the laptop sending tightrope to a box that
  lacks it removes /var/cache/tightrope first.
  Use the lab for `lab.ping(...)`, `lab.start_ping(...)`, `lab.laptop(...)`.

Function-scoped (the fast reset, about 3 s: loadvm "pristine", cable plugged, clock set):
- `netplan_box`, `rpios_box`: the `tightrope.lab.Box` of that lab, back in pristine state.
- `any_box`: the same, parametrised over both start states.
- `netplan_pair`: the netplan lab with both its boxes in pristine state.

A test that needs both lab and box asks for both, e.g. `def test_x(netplan_lab, netplan_box)`;
they are the same lab. Box 0 is at 198.18.1.50 (eth0) / .51 (wlan0) in both start states.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from tests.lab.boxtools import install
from tightrope.lab import Box, Lab, image
from tightrope.lab.lab import cleanup
from tightrope.remote.zipapp import build

PRISTINE = "pristine"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("TIGHTROPE_SKIP_LAB") != "1":
        # A software-emulated VM on 2 shared cores is slow in bursts: one rerun of a lab test
        # (from the pristine snapshot) tells a timing hiccup from a real failure; both runs
        # are reported.
        for item in items:
            if "lab" in item.keywords and config.pluginmanager.hasplugin("rerunfailures"):
                item.add_marker(pytest.mark.flaky(reruns=1))
        return
    skip = pytest.mark.skip(reason="TIGHTROPE_SKIP_LAB=1")
    for item in items:
        # The marker, not item.keywords: keywords also hold parent names, and this
        # directory is called "lab".
        if item.get_closest_marker("lab"):
            item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    rep = yield
    # Lets fixtures see whether the test failed, to print the box's side of the story.
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(scope="session")
def lab_image() -> image.Image:
    cleanup()  # leftovers of crashed sessions; never touches a lab started by `lab up`
    return image.ensure()


@pytest.fixture(scope="session")
def pyz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tightrope as the single file the box gets (built from this checkout)."""
    return build(tmp_path_factory.mktemp("pyz"))


def _boot(state: str, lab_image: image.Image, pyz: Path, boxes: int = 1) -> Iterator[Lab]:
    lab = Lab(f"t{os.getpid()}-{state[:2]}")
    try:
        lab.up([state] * boxes)
        for box in lab.boxes:
            # Addresses are part of "settled": a DHCP start state may still be negotiating.
            for ip in (box.spec.eth0_ip, box.spec.wlan0_ip):
                box.ssh(f"for i in $(seq 60); do ip -4 -o addr | grep -q ' {ip}/' && exit; "
                        "sleep 1; done; exit 1", timeout=90, check=True)  # fmt: skip
            # In the snapshot, so that no test pays for it again (~14 s each under emulation);
            # the laptop's journeys find this build compiled and send nothing.
            install(box, pyz)
        lab.timings["savevm_s"] = sum(box.snapshot(PRISTINE) for box in lab.boxes)
        print(f"\n[lab] {state}: {lab.accel}, " +
              ", ".join(f"{k} {v:.1f}" for k, v in lab.timings.items()))  # fmt: skip
        yield lab
    finally:
        lab.down()


@pytest.fixture(scope="session")
def netplan_lab(lab_image: image.Image, pyz: Path) -> Iterator[Lab]:
    # Two boxes, booted together: the fleet tests need both, the others use box 0 and leave
    # box 1 idle (about 3 % of a core); one two-box boot instead of one per fleet test.
    yield from _boot("netplan", lab_image, pyz, boxes=2)


@pytest.fixture(scope="session")
def rpios_lab(lab_image: image.Image, pyz: Path) -> Iterator[Lab]:
    yield from _boot("rpios", lab_image, pyz)


def _fresh(lab: Lab, request: pytest.FixtureRequest) -> Iterator[Box]:
    box = lab.box
    box.restore(PRISTINE)
    yield box
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for host in (box.spec.eth0_ip, box.spec.wlan0_ip, "198.18.1.64"):
            cp = box.ssh("nmcli -t -f NAME,DEVICE,STATE connection show; ip -br addr; "
                         "journalctl -b -n 40 --no-pager -o short-precise",
                         host=host, timeout=20)  # fmt: skip
            if cp.returncode == 0:
                print(f"--- box state at {host} after the failure ---\n{cp.stdout}")
                break


@pytest.fixture(scope="session")
def trixie_lab(lab_image: image.Image, pyz: Path) -> Iterator[Lab]:
    yield from _boot("trixie", lab_image, pyz)


@pytest.fixture
def netplan_box(netplan_lab: Lab, request: pytest.FixtureRequest) -> Iterator[Box]:
    yield from _fresh(netplan_lab, request)


@pytest.fixture
def rpios_box(rpios_lab: Lab, request: pytest.FixtureRequest) -> Iterator[Box]:
    yield from _fresh(rpios_lab, request)


@pytest.fixture
def trixie_box(trixie_lab: Lab, request: pytest.FixtureRequest) -> Iterator[Box]:
    yield from _fresh(trixie_lab, request)


@pytest.fixture
def netplan_pair(netplan_lab: Lab, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """The netplan lab with both its boxes back in pristine state (box 0 at .50, box 1 at
    .60); box 1 goes back to pristine afterwards too, so that it idles where it started."""
    netplan_lab.boxes[1].restore(PRISTINE)
    for _ in _fresh(netplan_lab, request):
        yield netplan_lab
    netplan_lab.boxes[1].restore(PRISTINE, wait=False)


@pytest.fixture(params=["netplan", "rpios"])
def any_box(request: pytest.FixtureRequest) -> Iterator[Box]:
    lab: Lab = request.getfixturevalue(f"{request.param}_lab")
    yield from _fresh(lab, request)
