"""The box over SSH, as the journey reaches it: one agent session per address, the zipapp
checked (and sent if needed) by one shell round trip first."""

from __future__ import annotations

from pathlib import Path

from tightrope.errors import TightropeError
from tightrope.remote.session import AgentSession
from tightrope.remote.ssh import Ssh


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
        return ssh.agent(ssh.ensure_pyz(self.pyz))

    def probe(self, address: str | None, timeout: int) -> TightropeError | None:
        return self._ssh(address).probe(timeout)

    def check_can_follow(self) -> None:
        self.ssh.check_can_follow()

    def close(self) -> None:
        for ssh in self._at.values():
            ssh.close()
        self.ssh.close()

    def __enter__(self) -> SshReach:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
