"""The box over SSH, as the journey reaches it: one agent session per address, the zipapp
checked (and sent if needed) by one shell round trip first."""

from __future__ import annotations

import socket
from pathlib import Path

from tightrope.errors import TightropeError
from tightrope.remote import identity as ident
from tightrope.remote.echo import EchoWatch
from tightrope.remote.session import AgentSession
from tightrope.remote.ssh import Ssh


class OutageWatch:
    def __init__(self, watch: EchoWatch, old: str, new: str) -> None:
        self.watch, self.old, self.new = watch, old, new

    def outage(self) -> float | None:
        return self.watch.outage(self.old, self.new)

    def new_answered(self) -> bool:
        return self.watch.answered(self.new)

    def old_answering(self) -> bool | None:
        if not self.watch.answered(self.old):
            return None  # never answered an echo: ICMP may be filtered there; ask SSH
        return self.watch.answered(self.old, within_s=1.5)

    def stop(self) -> None:
        self.watch.stop()


def _one_ipv4(who: ident.Identity) -> str | None:
    """The address ssh reaches a named box at, when the name has exactly one IPv4 address."""
    if who.via_proxy:
        return None
    try:
        found = {str(a[4][0]) for a in socket.getaddrinfo(who.hostname, who.port,
                                                          socket.AF_INET)}  # fmt: skip
    except OSError:
        return None
    return found.pop() if len(found) == 1 else None


class SshReach:
    def __init__(self, ssh: Ssh, pyz: Path, name: str) -> None:
        self.ssh, self.pyz, self.name = ssh, pyz, name
        self.old = ssh.target.host
        self._at: dict[str, Ssh] = {}

    def _ssh(self, address: str | None) -> Ssh:
        if address is None:
            return self.ssh
        if address not in self._at:
            self._at[address] = self.ssh.at(address)
        return self._at[address]

    def open(self, address: str | None) -> AgentSession:
        ssh = self._ssh(address)
        return ssh.ready_agent(self.pyz) or ssh.agent(ssh.ensure_pyz(self.pyz))

    def probe(
        self, address: str | None, timeout: int, *, keep: bool = False
    ) -> TightropeError | None:
        return self._ssh(address).probe(timeout, keep=keep)

    def check_can_follow(self) -> None:
        self.ssh.check_can_follow()

    def forget(self, address: str | None) -> None:
        self._ssh(address).drop_master()

    def outage_watch(self, new: str) -> OutageWatch | None:
        """Echo to the old and the new address, where ssh goes to the box straight from
        here; None through a jump host or where the old address is not known."""
        try:
            who = ident.resolve(self.ssh.base_argv(master=False), self.ssh.target.destination())
        except TightropeError:
            return None
        old = ident.direct_address(who) or _one_ipv4(who)
        if old is None:
            return None
        watch = EchoWatch([old, new])
        return OutageWatch(watch, old, new) if watch.measuring else None

    def close(self) -> None:
        for ssh in self._at.values():
            ssh.close()
        self.ssh.close()

    def __enter__(self) -> SshReach:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
