"""The system's OpenSSH client as tightrope's transport.

Using `ssh` itself means the user's ~/.ssh/config, agent, ProxyJump and known_hosts behave as
always. One multiplexed master connection per address (ControlMaster) spares a journey from
re-authenticating at every step. sudo's password, when one is needed, is asked once and sent
on stdin (`sudo -S`), never in argv.
"""

from __future__ import annotations

import getpass
import hashlib
import shlex
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tightrope.errors import BackendUnavailable, TightropeError
from tightrope.remote.target import Target

CACHE_DIR = "/var/cache/tightrope"
SSH_FAILED = 255


class RemoteError(TightropeError):
    pass


@dataclass(frozen=True)
class SshOptions:
    config_file: str | None = None
    options: tuple[str, ...] = ()  # extra `-o Key=Value`
    accept_new_host_key: bool = False


@dataclass
class Ssh:
    target: Target
    opts: SshOptions = field(default_factory=SshOptions)
    host: str | None = None  # another address of the same box (after the change)
    control_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tr-ssh-")))
    password: Callable[[], str] | None = None  # asks for sudo's password (once)
    _sudo: list[str] | None = None
    _secret: str | None = None

    def argv(self, *, master: bool = True, connect_timeout: int = 8) -> list[str]:
        argv = ["ssh"]
        if self.opts.config_file:
            argv += ["-F", self.opts.config_file]
        for opt in self.opts.options:
            argv += ["-o", opt]
        if master:
            argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_dir}/%C",
                     "-o", "ControlPersist=300"]  # fmt: skip
        argv += ["-o", f"ConnectTimeout={connect_timeout}", "-o", "ServerAliveInterval=2",
                 "-o", "ServerAliveCountMax=3", "-o", "BatchMode=yes"]  # fmt: skip
        if self.host and self.host != self.target.host:
            # The same box at a new address: check it against the key known for the old name.
            argv += ["-o", f"HostKeyAlias={self.target.host}"]
        if self.opts.accept_new_host_key:
            argv += ["-o", "StrictHostKeyChecking=accept-new"]
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        return [*argv, "-T", self.target.destination(self.host)]

    def run(
        self,
        command: str,
        *,
        stdin: bytes = b"",
        timeout: float = 120,
        master: bool = True,
        connect_timeout: int = 8,
    ) -> subprocess.CompletedProcess[bytes]:
        argv = [*self.argv(master=master, connect_timeout=connect_timeout), "--", command]
        try:
            return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                                  check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, SSH_FAILED, b"", b"timed out")
        except FileNotFoundError:
            raise RemoteError("the OpenSSH client (ssh) is not installed here") from None

    def at(self, host: str) -> Ssh:
        """The same box at another address, sharing what sudo needs (asked only once)."""
        other = Ssh(self.target, self.opts, host=host, password=self.password)
        other._sudo, other._secret = self._sudo, self._secret
        return other

    def reachable(self, timeout: int = 3) -> bool:
        return self.run("true", master=False, connect_timeout=timeout,
                        timeout=timeout + 5).returncode == 0  # fmt: skip

    def close(self) -> None:
        subprocess.run([*self.argv()[:-2], "-O", "exit", self.target.destination(self.host)],
                       capture_output=True, check=False, timeout=10)  # fmt: skip

    # -- root on the box ---------------------------------------------------------------------
    def _root(self) -> tuple[list[str], bytes]:
        if self._sudo is None:
            whoami = self.run("id -u")
            if whoami.returncode == SSH_FAILED:
                raise BackendUnavailable(
                    f"cannot reach {self.target.destination(self.host)} over SSH: "
                    + whoami.stderr.decode(errors="replace").strip(),
                    hint="Check that `ssh` to that host works on its own.")  # fmt: skip
            if whoami.stdout.strip() == b"0":
                self._sudo = []
            elif self.run("sudo -n true").returncode == 0:
                self._sudo = ["sudo", "-n"]
            else:
                ask = self.password or (
                    lambda: getpass.getpass(
                        f"sudo password for {self.target.destination(self.host)}: "
                    )
                )
                self._secret = ask()
                self._sudo = ["sudo", "-S", "-p", ""]
        prefix = (self._secret + "\n").encode() if self._secret is not None else b""
        return self._sudo, prefix

    def root(
        self, command: str, *, stdin: bytes = b"", timeout: float = 120
    ) -> subprocess.CompletedProcess[bytes]:
        line, prefix = self._as_root(command)
        cp = self.run(line, stdin=prefix + stdin, timeout=timeout)
        if cp.returncode == 1 and b"incorrect password" in cp.stderr:
            raise RemoteError("sudo refused the password")
        return cp

    def _as_root(self, command: str) -> tuple[str, bytes]:
        """The command line that runs `command` as root, and what its stdin must start with."""
        sudo, prefix = self._root()
        return (shlex.join(sudo) + " " + command if sudo else command), prefix

    def root_streaming(self, command: str) -> int:
        """Run as root with the box's output shown as it comes (for `watch`), until the
        command ends or the user presses Ctrl-C; returns its exit code."""
        line, prefix = self._as_root(command)
        argv = [*self.argv(master=True, connect_timeout=8), "--", line]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        if prefix:
            proc.stdin.write(prefix)
        proc.stdin.close()
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.terminate()
            proc.wait()
            return 0

    # -- tightrope on the box ----------------------------------------------------------------
    def ensure_pyz(self, pyz: Path) -> str:
        """Put the zipapp in the box's root-owned cache unless it is there; returns its path."""
        remote = f"{CACHE_DIR}/{pyz.name}"
        version = self.run("python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'")
        if version.returncode != 0:
            raise RemoteError("python3 is missing on the box", hint="tightrope needs python3 "
                              "3.10+ and NetworkManager there, nothing else.")  # fmt: skip
        major, minor = (int(x) for x in version.stdout.decode().strip().split("."))
        if (major, minor) < (3, 10):
            raise RemoteError(f"the box has Python {major}.{minor}; tightrope needs 3.10+")
        digest = hashlib.sha256(pyz.read_bytes()).hexdigest()
        check = self.root(f"sha256sum {shlex.quote(remote)}")
        if check.returncode == 0 and check.stdout.split()[:1] == [digest.encode()]:
            return remote
        script = (f"umask 022; mkdir -p {CACHE_DIR} && chmod 0755 {CACHE_DIR} && "
                  f"cat > {remote}.part && mv {remote}.part {remote}")  # fmt: skip
        cp = self.root(f"sh -c {shlex.quote(script)}", stdin=pyz.read_bytes(), timeout=300)
        if cp.returncode != 0:
            raise RemoteError("could not copy tightrope to the box: "
                              + cp.stderr.decode(errors="replace").strip())  # fmt: skip
        return remote

    def installed_version(self) -> str | None:
        cp = self.run("tightrope --version 2>/dev/null")
        return cp.stdout.decode().strip().removeprefix("tightrope ") if cp.returncode == 0 else None
