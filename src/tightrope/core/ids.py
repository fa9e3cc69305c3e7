"""The shape of a transaction id, for the state store: the same pattern as proto.TXN_ID
(a unit test keeps them equal), here because proto.py stands alone (Ansible ships a copy
of it) and the store must not import the protocol's dataclasses (`tightrope status` reads
the store at start-up)."""

from __future__ import annotations

import re

TXN_ID = re.compile(r"\A[0-9]{8}-[0-9]{6}-[0-9a-f]{4}\Z")
