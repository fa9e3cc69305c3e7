"""The verify step of a safe apply: the bond must check out within its window, and a change
that cannot work is rolled back as soon as that is certain (steps.py holds the others)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from tightrope.core.failfast import (
    Rejoin,
    StallWatch,
    Tripwire,
    address_in_use,
    bond_carries,
    bond_ready_for_arp,
    gateway_silent,
    port_stalled,
)
from tightrope.core.verify import verify
from tightrope.errors import TightropeError
from tightrope.txn.backend import System
from tightrope.txn.steps import Context, RolledBack, activate_port

# NetworkManager's supplicant timeout (25 s) and a margin: what a second try may take.
RETRY_ROOM_S = 30.0
DAD_WAIT_S = 5.0  # the probe takes under a second; a box this busy is not a verdict
# A gateway is called silent after this many ARP probes in a row went unanswered (each is
# txn/arpsock.GATEWAY_REQUESTS requests, a second apart): one was a good change's false
# verdict once, on an emulated box starved of CPU beside another (the lab's fleet test, 2026-12-07).
SILENT_PROBES = 2


class DadProbe:
    """Our duplicate-address probe of the static addresses, in a thread beside the
    verification's looks (it takes most of a second, a good change waits only for what is
    left of it)."""

    def __init__(self, system: System, addresses: Sequence[str], interface: str) -> None:
        self.taken: str | None = None  # an address another machine uses
        self._thread = threading.Thread(target=self._run, args=(system, addresses, interface),
                                        name="dad-probe", daemon=True)  # fmt: skip
        self._thread.start()

    def _run(self, system: System, addresses: Sequence[str], interface: str) -> None:
        for address in addresses:
            if system.address_taken(address, interface):
                self.taken = address
                return

    def wait(self, timeout_s: float) -> None:
        self._thread.join(timeout_s)


class Verify:
    """Polls a snapshot about once a second (at once after a signal of the bond or a port)
    until everything checks out, and meanwhile follows NetworkManager's signals and probes
    the gateway with ARP, so that a change that cannot work rolls back as soon as that is
    certain, in the admin's words, not when the window ends."""

    name = "verify"
    TICK_S = 0.25  # how often signals are read between two snapshots

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.trip = Tripwire(ctx.config)
        self.stalls = StallWatch(ctx.config.name, tuple(p.interface for p in ctx.config.ports))
        self.gateway_answered_arp = False
        self.gateway_silences = 0  # ARP probes in a row the gateway did not answer
        self.until = 0.0  # the verification window's end (monotonic)
        self.wifi = {p.interface for p in ctx.config.wifi_ports}
        self.statics = [str(a.ip) for a in ctx.config.ipv4.addresses]
        self.dad: DadProbe | None = None

    def commit(self) -> None:
        try:
            self._verify()
        except BaseException:
            self.ctx.close_events()
            raise
        if self.ctx.port_problems and self.ctx.events is not None:
            # A port not waited for: its signals go on telling while the change waits for
            # its confirmation (AwaitConfirm closes them), so the commit can say why it is
            # missing if it is not a matter of seconds.
            self.ctx.follow_ports = self._follow
        else:
            self.ctx.close_events()

    def _follow(self) -> None:
        # The bond was verified: only the ports not waited for are news.
        for iface in self._read_signals(wifi_only=True) & self.trip.handshake_cut:
            self.ctx.port_hints[iface] = (
                "the access point cut its handshake (a wrong PSK looks like this)")

    def _verify(self) -> None:
        ctx = self.ctx
        ctx.set_phase("verifying", None)
        self.trip.signals = ctx.events is not None  # Activate subscribed, or could not
        self.until = ctx.clock.mono() + ctx.verify_timeout_s
        gw = str(ctx.config.ipv4.gateway) if ctx.config.ipv4.gateway else None
        while True:
            ctx.stop_if_asked()
            self._read_signals()
            snap = ctx.snapshot()
            self._wifi_certain(self.trip.snapshot(snap))
            for iface in self.stalls.look(snap, ctx.clock.mono()):
                self._activate_again(iface, port_stalled(iface, ctx.config.name))
            if bond_carries(ctx.config, snap):
                self._start_dad()
            self._address_in_use(wait=False)
            # silent: this pass asked the gateway and had no answer (gateway_silences counts the
            # rounds in a row for the verdict).
            silent = False
            if gw and not self.gateway_answered_arp and bond_ready_for_arp(ctx.config, snap):
                silent = self._probe_gateway(gw) is False
            # The tripwire counts a Wi-Fi port's attempts when it has the signals; and a port
            # not waited for has no say in the verdict at all.
            wifi_fatal = not self.trip.signals and ctx.verify_all_ports
            base = verify(ctx.config, snap, wifi_fatal=wifi_fatal, all_ports=ctx.verify_all_ports)
            answers = None
            if base.ok and gw:
                # After an unanswered ARP round a ping would only wait out an ARP of its own
                # (a second and its start under emulation): not answered, and the next round
                # decides.
                answers = False if silent else ctx.system.ping(gw, ctx.config.name, count=1)
            ctx.verdict = verify(ctx.config, snap, gateway_answers=answers, wifi_fatal=wifi_fatal,
                                 all_ports=ctx.verify_all_ports)  # fmt: skip
            if ctx.verdict.ok:
                self._start_dad()  # carrying now, if not at the look above
                self._address_in_use(wait=True)
                self._verified()
                return
            if ctx.verdict.fatal or ctx.clock.mono() >= self.until:
                self._address_in_use(wait=True)  # a taken address is the reason, if it is
                refused = "".join(f"; NetworkManager refused {r}" for r in ctx.refusals)
                known = "".join(f"; {why}" for why in ctx.port_problems.values())
                raise RolledBack(f"verification failed: {ctx.verdict.reason()}{known}{refused}")
            if silent:
                continue  # that round took seconds: the next one at once (a wrong gateway
                # was named after 11.5 s on the emulated box with a ping and a second between)
            for _ in range(round(1.0 / self.TICK_S)):
                ctx.clock.sleep(self.TICK_S)
                ctx.stop_if_asked()
                if self._read_signals():
                    # NetworkManager says the bond or a port moved (the bond's address
                    # configured, a port joined): look now, not at the second's end.
                    break

    def _read_signals(self, wifi_only: bool = False) -> set[str]:
        """Reads what came; returns the interfaces it came from."""
        events = self.ctx.events
        if events is None:
            return set()
        seen = set()
        for event in events.drain():
            if wifi_only and event.interface not in self.wifi:
                continue
            seen.add(event.interface)
            found = self.trip.event(event)
            if isinstance(found, Rejoin) and self._room_for_another_try():
                self._rejoin(found)
                continue
            why = found.verdict if isinstance(found, Rejoin) else found
            if event.interface in self.wifi:
                self._wifi_certain(why, event.interface)
            else:
                self._certain(why)
        return seen

    def _verified(self) -> None:
        ctx = self.ctx
        verdict = ctx.verdict
        assert verdict is not None
        ctx.note("verified: " + "; ".join(c.detail for c in verdict.checks if c.ok))
        for check in verdict.not_waited_for:
            iface = check.name.removeprefix("port ")
            ctx.port_problems.setdefault(iface, "")
            known = ctx.port_problems[iface]
            ctx.note(f"not waiting for {iface} ({known or check.detail}): another port carries "
                     f"{ctx.config.name}; --verify-all-ports waits for every port")  # fmt: skip

    def _wifi_certain(self, why: str | None, iface: str | None = None) -> None:
        """A Wi-Fi port that certainly cannot join: the change fails if every port must be
        verified; otherwise it is told and the bond may still go on without it."""
        if why is None:
            return
        if self.ctx.verify_all_ports:
            self._certain(why)
        name = iface or next((i for i in sorted(self.wifi) if i in why), "")
        if self.ctx.port_problems.get(name) != why:
            self.ctx.note(f"verification: {why} (not waited for)")
        self.ctx.port_problems[name] = why

    def _room_for_another_try(self) -> bool:
        # A second try that cannot finish inside the window would only end in the window's
        # vaguer verdict, later (measured: an access point switched off failed the first try
        # at NetworkManager's 25 s supplicant timeout; a second one ran past a 40 s window).
        return self.until - self.ctx.clock.mono() >= RETRY_ROOM_S

    def _rejoin(self, rejoin: Rejoin) -> None:
        self._activate_again(rejoin.interface, rejoin.why)

    def _activate_again(self, iface: str, why: str) -> None:
        ctx = self.ctx
        port = next(d for d in ctx.plan.desired if d.interface == iface)
        ctx.note(f"verification: {why}; asking NetworkManager once more")
        try:
            activate_port(ctx, port)
        except TightropeError as exc:  # the window decides, as without the second try
            ctx.note(f"could not activate {port.interface} again: {exc}")

    def _probe_gateway(self, gw: str) -> bool | None:
        ctx = self.ctx
        answered = ctx.system.arp_probe(gw, ctx.config.name)
        self.gateway_silences = self.gateway_silences + 1 if answered is False else 0
        if self.gateway_silences >= SILENT_PROBES:
            arp = ctx.config.arp
            targets = [str(t) for t in arp.targets] if arp else []
            self._certain(gateway_silent(gw, ctx.config.name, targets))
        self.gateway_answered_arp = answered is True
        self._read_signals()  # what came during the probe's seconds
        return answered

    def _start_dad(self) -> None:
        if self.statics and self.dad is None:
            self.dad = DadProbe(self.ctx.system, self.statics, self.ctx.config.name)

    def _address_in_use(self, wait: bool) -> None:
        """NetworkManager probes the address too, and a bond whose probe found it taken
        fails (a signal); ours is for the probe it missed."""
        if self.dad is None:
            return
        if wait:
            self.dad.wait(DAD_WAIT_S)
        if self.dad.taken is not None:
            self._certain(address_in_use([self.dad.taken]))

    def _certain(self, why: str | None) -> None:
        if why is not None:
            self.ctx.note(f"verification: {why}")
            raise RolledBack(why)

    def rollback(self) -> None:
        pass
