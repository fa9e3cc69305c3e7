"""The laptop side of a change that moves the box: plan there, start it detached, follow the
box to its new address, confirm from there; or, if it never answers, wait for its own
rollback and say why it failed.

The box is reached through an injected `Reach` (SSH in production, a stand-in agent in unit
tests). The laptop decides where it connects: the new address comes from its own config (for
undo: the box's record, accepted only as an IP address), and the host key there must be the
one trusted for the old address.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tightrope import proto
from tightrope.core.configdump import config_to_data
from tightrope.core.model import BondConfig
from tightrope.errors import Exit
from tightrope.remote.follow import follow
from tightrope.remote.trip import (
    Emit,
    JourneyResult,
    Outcome,
    Reach,
    Tick,
    Trip,
    Until,
    Watch,
    hello,
    no_tick,
    no_watch,
)

__all__ = ["Emit", "JourneyResult", "Outcome", "Reach", "Tick", "Until", "Watch",
           "apply_journey", "hello", "reconnect_address", "request_config", "undo_journey"]


def request_config(config: BondConfig) -> tuple[dict[str, Any], dict[str, str]]:
    """The config as the box gets it (no laptop-local PSK sources) and the PSKs apart."""
    data = config_to_data(config)
    for spec in data["ports"].values():
        for key in ("psk-file", "psk-env"):
            spec.pop(key, None)
    return data, {p.interface: p.psk.reveal() for p in config.ports if p.psk is not None}


def reconnect_address(config: BondConfig) -> str | None:
    """Where the box will answer, from the laptop's own config; None with DHCP."""
    if config.ipv4.dhcp or not config.ipv4.addresses:
        return None
    return proto.valid_address(str(config.ipv4.addresses[0].ip))


def apply_journey(
    reach: Reach,
    config: BondConfig,
    options: proto.Options,
    *,
    consent: Callable[[proto.PlanAnswer], bool],
    emit: Emit,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tick: Tick = no_tick,
    watch: Callable[[str], Watch | None] = no_watch,
) -> JourneyResult:
    trip = Trip(reach, emit, clock, sleep, clock(), tick)
    emit("connect", f"connecting to {reach.name}")
    data, psk = request_config(config)
    new = reconnect_address(config)
    channel = reach.open(None)
    try:
        hello(channel)
        emit("plan", "reading the box's state")
        planned = channel.call(proto.PlanRequest(config=data, psk=psk, options=options),
                               proto.PlanAnswer)  # fmt: skip
        if planned.plan.get("no_change"):
            return trip.result(new, Outcome.NO_CHANGE)
        if not consent(planned):
            return trip.result(new, Outcome.DECLINED, code=int(Exit.FAILED))
        if new is not None:
            reach.check_can_follow()
            trip.watch = watch(new)  # the old address's last replies come before the start
        started = channel.call(proto.StartRequest(config=data, psk=psk, options=options,
                                                  fingerprint=planned.fingerprint),
                               proto.TxnView)  # fmt: skip
    except BaseException:
        trip.stop_watch()
        raise
    finally:
        channel.close()
    if new is None:
        return trip.result(None, Outcome.UNKNOWN, "the bond takes a DHCP address: confirm "
                           "from it with `tightrope confirm`", started.id,
                           code=int(Exit.FAILED))  # fmt: skip
    window = options.verify_timeout + options.confirm_timeout + 30
    try:
        return follow(trip, started.id, new, window)
    finally:
        trip.stop_watch()


def undo_journey(
    reach: Reach,
    txn: str | None,
    options: proto.Options,
    *,
    emit: Emit,
    to: str | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    tick: Tick = no_tick,
) -> JourneyResult:
    """Undo a committed change from the laptop: the box goes back to its old address, and the
    journey follows it there and confirms, as for the change itself."""
    trip = Trip(reach, emit, clock, sleep, clock(), tick)
    emit("connect", f"connecting to {reach.name}")
    channel = reach.open(None)
    try:
        hello(channel)
        reach.check_can_follow()
        started = channel.call(proto.UndoRequest(txn=txn, options=options), proto.TxnView)
    finally:
        channel.close()
    where = to or started.reconnect_at
    if where is None:
        return trip.result(None, Outcome.UNKNOWN, "the old configuration takes a DHCP address: "
                           "confirm from it with `tightrope confirm`", started.id,
                           code=int(Exit.FAILED))  # fmt: skip
    try:
        new = proto.valid_address(where)
    except proto.ProtocolError as exc:
        return trip.result(None, Outcome.UNKNOWN, f"not following the box: {exc}; it rolls "
                           "the undo back by itself", started.id, code=int(Exit.FAILED))
    window = options.verify_timeout + options.confirm_timeout + 30
    return follow(trip, started.id, new, window)
