"""Time, injected: the real clock on the box, a stepping clock in tests.

Two clocks, never mixed. `now()` is the wall clock, for what people read (when a change was
made, transaction ids). `mono()` is for every duration and deadline: a Raspberry Pi has no
battery-backed clock, so its wall clock starts at the last shutdown (fake-hwclock) and jumps,
often by hours, when NTP syncs, which tends to happen just as a new network comes up.
CLOCK_BOOTTIME is the clock NetworkManager's own checkpoint timer runs on; it counts from
boot, so a stored value means something only with the boot id beside it.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def mono(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


def boottime() -> float:
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    return time.clock_gettime(clock) if clock is not None else time.monotonic()


class RealClock:
    def now(self) -> float:
        return time.time()

    def mono(self) -> float:
        return boottime()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
