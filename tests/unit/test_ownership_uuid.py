"""Our profiles' UUIDs are uuid5 in the tightrope namespace: the hand-made hash must give
what the uuid module gives, or every profile made before would stop being ours."""

from __future__ import annotations

import uuid

import pytest

from tightrope.core.ownership import profile_uuid, uuid5

NAMESPACE = uuid.UUID("4f1b7d9e-2b1c-5c1e-9a57-7469676874f0")


@pytest.mark.parametrize("bond,port", [("bond0", None), ("bond0", "eth0"), ("bönd", "wlan0"),
                                       ("b" * 15, "x" * 15)])  # fmt: skip
def test_profile_uuids_are_the_uuid_modules(bond: str, port: str | None) -> None:
    expected = uuid.uuid5(NAMESPACE, f"tightrope/{bond}/{port or ''}")
    assert profile_uuid(bond, port) == str(expected)


def test_uuid5_matches_the_standard_library_for_any_namespace() -> None:
    for name in ("", "x", "a/b/c", "🙂" * 50):
        assert uuid5(uuid.NAMESPACE_DNS.bytes, name) == str(uuid.uuid5(uuid.NAMESPACE_DNS, name))
