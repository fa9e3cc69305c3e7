"""Outage measurement: a fast ping from the laptop namespace and a pure parser of its output.

`ping -D -O -i 0.01` prints one line per reply with a host-clock timestamp, and one line per
probe still unanswered when the next goes out; the parser turns that into per-probe results
and the longest stretch without a reply, which is what an admin feels as the outage.
"""

from __future__ import annotations

import itertools
import math
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

from tightrope.lab.proc import netns

_REPLY = re.compile(
    r"^\[(?P<ts>\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(?P<seq>\d+) .*?time=(?P<rtt>[\d.]+) ms"
)
_NO_ANSWER = re.compile(r"^\[(?P<ts>\d+\.\d+)\] no answer yet for icmp_seq=(?P<seq>\d+)")
_SUMMARY = re.compile(r"^(?P<tx>\d+) packets transmitted, (?P<rx>\d+) (packets )?received")


@dataclass(frozen=True)
class Reply:
    seq: int
    at: float  # host clock (seconds since the epoch) when the reply arrived
    rtt_ms: float


@dataclass
class PingResult:
    target: str
    interval: float
    replies: list[Reply] = field(default_factory=list)
    unanswered: dict[int, float] = field(default_factory=dict)  # seq -> time noticed
    transmitted: int = 0
    started: float | None = None
    ended: float | None = None

    @property
    def received(self) -> int:
        return len({r.seq for r in self.replies})

    @property
    def lost(self) -> list[int]:
        got = {r.seq for r in self.replies}
        return [s for s in range(1, self.transmitted + 1) if s not in got]

    def longest_gap(self) -> tuple[float, float]:
        """(start, end) host times of the longest stretch without a reply. Counts from the
        first probe and to the end of the run, so a target that never answers (again) shows
        its whole silence."""
        times = sorted(r.at for r in self.replies)
        start = self.started if self.started is not None else (times[0] if times else 0.0)
        end = self.ended if self.ended is not None else (times[-1] if times else start)
        edges = [start, *times, max([end, *times])]
        return max(itertools.pairwise(edges), key=lambda ab: ab[1] - ab[0], default=(start, start))

    def longest_gap_ms(self) -> float:
        a, b = self.longest_gap()
        return (b - a) * 1000

    def outage_ms(self) -> float:
        """The longest silence less one probe interval (an unbroken stream still has gaps of
        one interval between its replies)."""
        return max(0.0, self.longest_gap_ms() - self.interval * 1000)

    def first_reply_after(self, t: float) -> float | None:
        later = [r.at for r in self.replies if r.at >= t]
        return min(later) if later else None

    def summary(self) -> dict[str, object]:
        return {
            "target": self.target,
            "transmitted": self.transmitted,
            "received": self.received,
            "lost": len(self.lost),
            "longest_gap_ms": round(self.longest_gap_ms(), 1),
            "outage_ms": round(self.outage_ms(), 1),
        }


def parse_ping(text: str, target: str = "", interval: float = 0.01) -> PingResult:
    """Parse the output of `ping -D -O -n -i INTERVAL ...`."""
    res = PingResult(target=target, interval=interval)
    max_seq = 0
    for line in text.splitlines():
        line = line.strip()
        if (m := _REPLY.match(line)) and "DUP!" not in line:
            seq = int(m["seq"])
            res.replies.append(Reply(seq, float(m["ts"]), float(m["rtt"])))
            max_seq = max(max_seq, seq)
        elif m := _NO_ANSWER.match(line):
            res.unanswered[int(m["seq"])] = float(m["ts"])
            max_seq = max(max_seq, int(m["seq"]))
        elif m := _SUMMARY.match(line):
            res.transmitted = int(m["tx"])
    res.transmitted = max(res.transmitted, max_seq)
    stamps = [r.at - r.rtt_ms / 1000 for r in res.replies] + list(res.unanswered.values())
    if stamps:
        res.started = min(stamps)
        # The last probe went out no later than the last line printed.
        res.ended = max([r.at for r in res.replies] + list(res.unanswered.values()))
    return res


def ping_argv(target: str, count: int, interval: float = 0.01) -> list[str]:
    # A count, not a deadline (-w): with a deadline, iputils ping quits at the first error
    # (e.g. "No buffer space available" while the target's MAC is unresolved), which is
    # exactly the moment an outage measurement must keep going.
    return ["ping", "-D", "-O", "-n", "-i", f"{interval:g}", "-W", "1",
            "-c", str(count), target]  # fmt: skip


class PingRun:
    """A ping running in the background in a namespace for about `seconds`; `result()`
    waits for the end of that time, stops ping (SIGINT, as Ctrl-C would) and parses."""

    def __init__(self, ns: str, target: str, seconds: float, interval: float = 0.01) -> None:
        self.target = target
        self.interval = interval
        self.seconds = seconds
        self._until = time.monotonic() + seconds
        # A file, not a pipe: nobody reads while the run goes on, and a full pipe (64 KiB,
        # about 11 s of 10 ms probes) would block ping itself, which then looks exactly like
        # an outage.
        self._out = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed in _collect)
        self._proc = subprocess.Popen(
            netns(ns, ping_argv(target, max(1, math.ceil(seconds / interval)), interval)),
            stdout=self._out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )

    def result(self) -> PingResult:
        """Wait until the run's time is up, then stop ping and parse what it printed."""
        return self._collect(max(0.0, self._until - time.monotonic()))

    # The name some callers reach for; same as result().
    wait = result

    def stop(self) -> PingResult:
        """Stop now (e.g. once what was being watched has happened) and parse."""
        return self._collect(0.0)

    def _collect(self, wait: float) -> PingResult:
        stopped: float | None = None
        try:
            self._proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            stopped = time.time()
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._out.seek(0)
        out = self._out.read()
        self._out.close()
        res = parse_ping(out, self.target, self.interval)
        if stopped is not None:
            # Still probing when stopped: silence up to that moment counts.
            res.ended = max(res.ended or stopped, stopped)
        return res


def wait_answer(ns: str, target: str, timeout: float, *, answering: bool = True) -> float:
    """Seconds until target answers a ping (or, with answering=False, stops answering),
    probing with a fresh one-shot ping about every 0.1 s. Made for "when did the new address
    come up": a long-running ping that saw many errors falls behind and slows down (iputils
    backs off), a fresh process does not."""
    t0 = time.monotonic()
    while True:
        cp = subprocess.run(
            netns(ns, ["ping", "-c", "1", "-n", "-W", "0.5", target]),
            capture_output=True, check=False,
        )  # fmt: skip
        if (cp.returncode == 0) == answering:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"{target} {'never answered' if answering else 'kept answering'}"
                               f" within {timeout:.0f} s")  # fmt: skip
        time.sleep(0.1)
