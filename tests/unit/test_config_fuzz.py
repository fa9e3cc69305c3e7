"""Any input, however malformed, ends in a valid config or a ConfigError: never a traceback."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tightrope.cli.main import main
from tightrope.core.config import Sources, parse_config
from tightrope.core.yamltext import dump_yaml, parse_yaml
from tightrope.errors import ConfigError

SOURCES = Sources(env={"P": "lab-only-passphrase"}, prompt=lambda s: "short")

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20)
)
keys = st.sampled_from(
    ["bond", "ports", "parameters", "ipv4", "ipv6", "mtu", "eth0", "wlan0", "type", "ssid",
     "psk", "psk-env", "addresses", "gateway", "nameservers", "dhcp", "mode", "primary",
     "mii-monitor-interval", "up-delay", "method", "search", "x"]
)
trees = st.recursive(
    scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(keys, kids, max_size=5)),
    max_leaves=25,
)


@given(trees)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_any_data_is_valid_or_a_config_error(data: Any) -> None:
    try:
        parse_config(data, SOURCES)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError always says what is wrong"
        for p in exc.problems:
            assert p.field and p.message and p.fix


@given(st.binary(max_size=300))
@settings(max_examples=300)
def test_any_bytes_parse_or_config_error(raw: bytes) -> None:
    try:
        data = parse_yaml(raw)
    except ConfigError:
        return
    with contextlib.suppress(ConfigError):
        parse_config(data, SOURCES)


@given(trees)
@settings(max_examples=100)
def test_yaml_text_round_trip_is_safe(data: Any) -> None:
    try:
        text = dump_yaml(data)
    except Exception:  # hypothesis floats like nan dump fine; anything else is not our input
        return
    with contextlib.suppress(ConfigError):
        parse_config(parse_yaml(text), SOURCES)


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\x01\x02binary junk\xff",
        b"\xff\xfe\xfd",
        b"ports: [unclosed",
        b"- a\n- b\n",
        b"ports:\n  eth0: &a [*a]\n",
        b"ports: !!python/object:os.system {}\n",
        b"[" * 5000,
        b"",
    ],
)
def test_cli_plan_on_malformed_file_exits_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    f = tmp_path / "bond.yaml"
    f.write_bytes(content)
    f.chmod(0o600)
    assert main(["plan", str(f)]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err
