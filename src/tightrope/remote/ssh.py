"""The system's OpenSSH client as tightrope's transport.

Using `ssh` itself means the user's ~/.ssh/config, agent, ProxyJump and known_hosts behave as
always. One multiplexed master connection per address (ControlMaster) spares a journey from
re-authenticating at every step. Every destination follows `--`, so nothing the user or the
box wrote can be read as an option. sudo's password, when one is needed, is asked once and
sent on stdin (`sudo -S`), never in argv.

At the box's new address the connection is the user's own destination (alias, User, Port,
ProxyJump, keys all kept) with only HostName changed, and the host key checked under the exact
name known_hosts stores it by, never accepting a new one.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import logging
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tightrope.errors import Exit, TightropeError
from tightrope.proto import valid_address
from tightrope.remote import identity as ident
from tightrope.remote.session import AgentSession
from tightrope.remote.sshfail import NO_PYTHON, SSH_FAILED, SshFailure, classify
from tightrope.remote.target import Target
from tightrope.remote.zipapp import CACHE_DIR, READY, UNPACK_SCRIPT

log = logging.getLogger("tightrope")


class RemoteError(TightropeError):
    pass


@dataclass(frozen=True)
class SshOptions:
    config_file: str | None = None
    options: tuple[str, ...] = ()  # extra `-o Key=Value`
    accept_new_host_key: bool = False


@dataclass(frozen=True)
class Preflight:
    """What one shell round trip tells about the box before any Python starts there."""

    uid: int
    python: bool
    sudo: str  # root, nopasswd, password
    sha256: str  # of the cached zipapp, "" if absent
    ready: str = ""  # the zipapp hash its compiled tree was made from, "" if none


_PREFLIGHT = re.compile(
    r"^tightrope-preflight uid=(\d+) python=([01]) sudo=(root|nopasswd|password) "
    r"sha=([0-9a-f]{64}|) ready=([0-9a-f]{64}|)$", re.M)  # fmt: skip


def parse_preflight(text: str) -> Preflight | None:
    m = _PREFLIGHT.search(text)
    if m is None:
        return None
    return Preflight(int(m.group(1)), m.group(2) == "1", m.group(3), m.group(4), m.group(5))


def tree_of(remote_pyz: str) -> str:
    """Where the box keeps the zipapp unpacked and compiled by its own python3."""
    return remote_pyz.removesuffix(".pyz")


def preflight_script(remote_pyz: str) -> str:
    q = shlex.quote(remote_pyz)
    ready = shlex.quote(f"{tree_of(remote_pyz)}/{READY}")
    return (
        "u=$(id -u); if command -v python3 >/dev/null 2>&1; then p=1; else p=0; fi; "
        f"h=$(sha256sum {q} 2>/dev/null | cut -c1-64); "
        f"r=$(head -c 64 {ready} 2>/dev/null | tr -cd 0-9a-f); "
        'if [ "$u" = 0 ]; then s=root; elif sudo -n true 2>/dev/null; then s=nopasswd; '
        "else s=password; fi; "
        'echo "tightrope-preflight uid=$u python=$p sudo=$s sha=$h ready=$r"'
    )


NOT_READY = "tightrope-not-ready"


def ready_script(tree: str, sha: str) -> str:
    """Start the agent at once where that needs nothing else: root, and this very build
    already unpacked (its READY file holds the zipapp's hash); else say so and end. Spares
    the preflight's round trip (a shell, sha256sum and sudo's check) on each session, two
    of which lie on the journey's way to its commit."""
    ready = shlex.quote(f"{tree}/{READY}")
    return (f'if [ "$(id -u)" = 0 ] && [ "$(head -c 64 {ready} 2>/dev/null)" = '
            f"{shlex.quote(sha)} ]; then exec python3 {shlex.quote(tree)} _agent; fi; "
            f"echo {NOT_READY}")  # fmt: skip


@functools.lru_cache(maxsize=4)
def _sha256(pyz: Path) -> str:
    return hashlib.sha256(pyz.read_bytes()).hexdigest()


@dataclass
class Ssh:
    target: Target
    opts: SshOptions = field(default_factory=SshOptions)
    address: str | None = None  # the box's new address (validated IP), None: as the user named it
    password: Callable[[], str] | None = field(default=None, repr=False)
    control_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tr-ssh-")))
    known_name: str | None = None  # the known_hosts name to check at `address`
    _sudo: list[str] | None = field(default=None, repr=False)
    _secret: str | None = field(default=None, repr=False)
    _owner: bool = field(default=True, repr=False)

    @property
    def where(self) -> str:
        return f"{self.target.destination()} at {self.address}" if self.address else str(
            self.target)

    def base_argv(self, *, master: bool = True, connect_timeout: int = 8) -> list[str]:
        argv = ["ssh"]
        if self.opts.config_file:
            argv += ["-F", self.opts.config_file]
        if self.address:
            # First given wins in ssh: these come before the user's own -o options.
            argv += ["-o", f"HostName={self.address}", "-o", f"HostKeyAlias={self.known_name}",
                     "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no",
                     "-o", "CheckHostIP=no"]  # fmt: skip
        elif self.opts.accept_new_host_key:
            argv += ["-o", "StrictHostKeyChecking=accept-new"]
        for opt in self.opts.options:
            argv += ["-o", opt]
        if master:
            argv += ["-o", "ControlMaster=auto", "-o", f"ControlPath={self.control_dir}/%C",
                     "-o", "ControlPersist=300"]  # fmt: skip
        argv += ["-o", f"ConnectTimeout={connect_timeout}", "-o", "ServerAliveInterval=2",
                 "-o", "ServerAliveCountMax=3", "-o", "BatchMode=yes"]  # fmt: skip
        if self.target.port:
            argv += ["-p", str(self.target.port)]
        return argv

    def argv(self, command: str, *, master: bool = True, connect_timeout: int = 8) -> list[str]:
        base = self.base_argv(master=master, connect_timeout=connect_timeout)
        return [*base, "-T", "--", self.target.destination(), command]

    def run(
        self, command: str, *, stdin: bytes = b"", timeout: float = 120, master: bool = True,
        connect_timeout: int = 8,
    ) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
        argv = self.argv(command, master=master, connect_timeout=connect_timeout)
        log.info("ssh: %s", shlex.join(argv))  # -v; secrets travel on stdin, never in argv
        try:
            return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                                  check=False)  # fmt: skip
        except subprocess.TimeoutExpired:
            return subprocess.CompletedProcess(argv, SSH_FAILED, b"", b"Connection timed out")
        except FileNotFoundError:
            raise RemoteError("the OpenSSH client (ssh) is not installed here",
                              hint="Install it: apt install openssh-client.") from None

    def at(self, address: str) -> Ssh:
        """The same box at another address: same identity, host key checked, never a new one.
        Shares what sudo needs (asked only once)."""
        address = valid_address(address)
        known = self.known_name or ident.resolve(self.base_argv(master=False),
                                                 self.target.destination()).known_hosts_name
        other = Ssh(self.target, self.opts, address=address, password=self.password,
                    control_dir=self.control_dir, known_name=known,
                    _sudo=self._sudo, _secret=self._secret, _owner=False)  # fmt: skip
        return other

    def check_can_follow(self) -> None:
        """Refuse, before anything changes, a box whose host key the journey could not check
        at the new address (known_hosts off or empty for it)."""
        who = ident.resolve(self.base_argv(master=False), self.target.destination())
        self.known_name = ident.known_name(who)
        if self.known_name is None:
            raise SshFailure(
                f"no host key for {who.known_hosts_name} in your known_hosts "
                f"({', '.join(who.known_hosts_files) or 'none configured'})",
                "The journey checks that the box at its new address is the same machine by "
                "the key you trust for the old one: connect once with plain `ssh` (or pass "
                "--accept-new-host-key), and do not set UserKnownHostsFile=/dev/null.",
                Exit.HOST_KEY)  # fmt: skip

    def probe(self, timeout: int = 3, *, keep: bool = False) -> SshFailure | None:
        """None if the box answers here with the trusted key, else why not. keep: the
        connection stays as the address's master, for the session opened right after (an
        address that may be going away is probed on its own connection: a master there
        could be dead without knowing it yet)."""
        cp = self.run("true", master=keep, connect_timeout=timeout, timeout=timeout + 5)
        return None if cp.returncode == 0 else classify(cp.returncode, cp.stderr, self.where)

    def drop_master(self) -> None:
        """End this address's master connection (the next session makes a new one)."""
        subprocess.run([*self.base_argv(), "-O", "exit", "--", self.target.destination()],
                       capture_output=True, check=False, timeout=10)  # fmt: skip

    def close(self) -> None:
        self.drop_master()
        if self._owner:
            shutil.rmtree(self.control_dir, ignore_errors=True)

    def __enter__(self) -> Ssh:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- root on the box ---------------------------------------------------------------------
    def _sudo_for(self, mode: str) -> list[str]:
        if self._sudo is None:
            if mode == "root":
                self._sudo = []
            elif mode == "nopasswd":
                self._sudo = ["sudo", "-n"]
            else:
                ask = self.password or (lambda: getpass.getpass(
                    f"sudo password for {self.target.destination()}: "))  # fmt: skip
                self._secret = ask()
                self._sudo = ["sudo", "-S", "-p", ""]
        return self._sudo

    def _as_root(self, command: str) -> tuple[str, bytes]:
        assert self._sudo is not None, "preflight first"
        prefix = (self._secret + "\n").encode() if self._secret is not None else b""
        return (shlex.join(self._sudo) + " " + command if self._sudo else command), prefix

    def root(self, command: str, *, stdin: bytes = b"",
             timeout: float = 120) -> subprocess.CompletedProcess[bytes]:  # fmt: skip
        line, prefix = self._as_root(command)
        cp = self.run(line, stdin=prefix + stdin, timeout=timeout)
        if cp.returncode != 0 and b"incorrect password" in cp.stderr:
            raise SshFailure(f"sudo on {self.where} refused the password",
                             "Run it again and type the password of the SSH user.",
                             Exit.NOT_ROOT)  # fmt: skip
        return cp

    # -- tightrope on the box ----------------------------------------------------------------
    def ensure_pyz(self, pyz: Path) -> str:
        """One shell round trip (no Python) learns uid, python3, sudo and the cached copy's
        hash; the zipapp is sent only when the box lacks this exact build. Returns what to run:
        the tree the box unpacked and compiled from it (a zipapp recompiles every module at
        each start: measured 3.6-6.2 s for `_agent` under TCG against 1.2-1.3 s from the
        compiled tree), or the zipapp itself if the box could not make the tree."""
        remote = f"{CACHE_DIR}/{pyz.name}"
        cp = self.run(preflight_script(remote))
        found = parse_preflight(cp.stdout.decode(errors="replace"))
        if cp.returncode != 0 or found is None:
            raise classify(cp.returncode or SSH_FAILED, cp.stderr, self.where)
        if not found.python:
            raise classify(NO_PYTHON, b"python3: command not found", self.where)
        self._sudo_for(found.sudo)
        sha = _sha256(pyz)
        if found.ready == sha:  # compiled from this very build (here or by the box's own start)
            return tree_of(remote)
        if found.sha256 != sha:
            script = (f"umask 022; mkdir -p {CACHE_DIR} && chmod 0755 {CACHE_DIR} && "
                      f"cat > {remote}.part && mv {remote}.part {remote}")  # fmt: skip
            sent = self.root(f"sh -c {shlex.quote(script)}", stdin=pyz.read_bytes(),
                             timeout=300)  # fmt: skip
            if sent.returncode != 0:
                raise classify(sent.returncode, sent.stderr, self.where)
        unpack = shlex.join(["python3", "-c", UNPACK_SCRIPT, remote, tree_of(remote), sha, READY])
        made = self.root(unpack, timeout=300)
        return tree_of(remote) if made.returncode == 0 else remote

    def ready_agent(self, pyz: Path) -> AgentSession | None:
        """The agent, started without a preflight where the box is ready for it (see
        ready_script), greeted once; None where it is not (the caller goes the long way)."""
        if self._sudo:  # sudo's way: the preflight knows how
            return None
        remote = f"{CACHE_DIR}/{pyz.name}"
        argv = self.argv(ready_script(tree_of(remote), _sha256(pyz)))
        session = AgentSession(argv, b"", self.where)
        if not session.opening(NOT_READY.encode()):
            return None
        self._sudo = []  # root, as the script checked
        return session

    def agent(self, remote_pyz: str) -> AgentSession:
        """Start the one agent process this connection's requests go to."""
        line, prefix = self._as_root(f"python3 {shlex.quote(remote_pyz)} _agent")
        return AgentSession(self.argv(line), prefix, self.where)
