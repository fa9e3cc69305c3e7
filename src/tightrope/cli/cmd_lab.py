"""`tightrope lab ...`: a throwaway VM box to rehearse on (see docs/lab.md)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from tightrope.errors import LabError


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def sudo_argv(argv: Sequence[str], *, euid: int, sudo: str | None, python: str) -> list[str] | None:
    """The command line that runs `tightrope ARGV` as root, or None when already root.

    Every lab command needs root (network namespaces, taps, QEMU's bridge); re-running
    through sudo lets the README's one install-and-demo line be the same for root and for a
    user with sudo. The same interpreter runs it, so a venv's tightrope stays the one used
    whatever sudo's secure_path holds.
    """
    if euid == 0:
        return None
    if sudo is None:
        raise LabError(
            "the lab needs root (network namespaces, taps) and there is no sudo",
            hint="Run the same command as root.",
        )
    return [sudo, "--", python, "-m", "tightrope", *argv]


def _as_root(func: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        argv = sudo_argv(getattr(args, "argv", sys.argv[1:]), euid=os.geteuid(),
                         sudo=shutil.which("sudo"), python=sys.executable)  # fmt: skip
        if argv is not None:
            _say("tightrope: the lab needs root; running this through sudo")
            os.execvp(argv[0], argv)
        return func(args)

    return run


def _attach(args: argparse.Namespace) -> Any:
    from tightrope.lab.lab import Lab

    return Lab.attach(args.name)


def _box(args: argparse.Namespace) -> Any:
    lab = _attach(args)
    if not 0 <= args.box < len(lab.boxes):
        raise LabError(f"lab {args.name} has no box {args.box}")
    return lab.boxes[args.box]


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _up(args: argparse.Namespace) -> int:
    from tightrope.lab.lab import Lab

    # A SIGTERM during `up` unwinds like Ctrl-C, so the half-built lab is removed.
    signal.signal(signal.SIGTERM, _interrupt)
    lab = Lab(args.name, persist=True)
    t0 = time.monotonic()
    lab.up(args.state or ["netplan"])
    for b in lab.boxes:
        _say(f"{b.name} ({b.spec.state}) is up: eth0 {b.spec.eth0_ip}, wlan0 {b.spec.wlan0_ip}")
    _say(f"ready in {time.monotonic() - t0:.0f} s ({lab.accel}). Next: tightrope lab ssh"
         f"{'' if args.name == 'lab' else ' --name ' + args.name}")  # fmt: skip
    return 0


def _ssh(args: argparse.Namespace) -> int:
    box = _box(args)
    cmd = list(args.cmd)
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    argv = box.ssh_argv(args.host, tty=not cmd and sys.stdin.isatty())
    if not cmd:
        os.execvp(argv[0], argv)
    # The command goes to the remote shell as one string, as with plain ssh.
    return subprocess.run([*argv, " ".join(cmd)], check=False).returncode


def _cable(plugged: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        _box(args).set_cable(plugged)
        _say(f"cable {'plugged in' if plugged else 'pulled'}")
        return 0

    return run


def _path(alive: bool) -> Any:
    def run(args: argparse.Namespace) -> int:
        _box(args).set_path(alive)
        _say("the cable's path to the LAN is back" if alive else
             "the cable's path to the LAN is cut (its link stays up)")  # fmt: skip
        return 0

    return run


def _reboot(args: argparse.Namespace) -> int:
    took = _box(args).reboot(host=args.host)
    _say(f"rebooted; SSH answered after {took:.1f} s")
    return 0


def _power_cut(args: argparse.Namespace) -> int:
    box = _box(args)
    box.power_cut(args.off)
    _say("power cut and restored; booting")
    if args.wait:
        _say(f"SSH answered after {box.wait_ssh(host=args.host):.1f} s")
    return 0


def _snapshot(args: argparse.Namespace) -> int:
    _say(f"saved {args.snap} in {_box(args).snapshot(args.snap):.1f} s")
    return 0


def _restore(args: argparse.Namespace) -> int:
    _say(f"restored {args.snap}; SSH answered after {_box(args).restore(args.snap):.1f} s")
    return 0


def _ping(args: argparse.Namespace) -> int:
    lab = _attach(args)
    res = lab.ping(args.target, args.seconds, args.interval)
    print(json.dumps(res.summary(), indent=2))
    return 0 if res.received else 1


def _status(args: argparse.Namespace) -> int:
    from tightrope.lab.lab import Lab, list_runs

    names = [args.name] if args.name else list_runs()
    out = [Lab.attach(n).status() for n in names]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    if not out:
        print("no lab is up")
    for lab in out:
        print(f"lab {lab['name']} ({lab['accel']}), namespaces {lab['namespaces']['lan']}, "
              f"{lab['namespaces']['laptop']}")  # fmt: skip
        for b in lab["boxes"]:
            state = "running" if b["running"] else "STOPPED"
            print(f"  {b['name']}: {b['state']}, eth0 {b['eth0']}, wlan0 {b['wlan0']}, {state}")
    return 0


def _down(args: argparse.Namespace) -> int:
    from tightrope.lab.lab import Lab, cleanup

    if args.all:
        removed = cleanup(everything=True)
        _say("removed: " + (", ".join(removed) if removed else "nothing"))
        return 0
    try:
        lab = Lab.attach(args.name)
    except LabError:
        lab = Lab(args.name, persist=True)  # half-built: still remove what exists
    lab.down()
    _say(f"lab {args.name} is down")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from pathlib import Path

    from tightrope.lab.demo import check_picture_deps, run_demo
    from tightrope.lab.lab import Lab

    check_picture_deps()
    signal.signal(signal.SIGTERM, _interrupt)
    lab = Lab(args.name, persist=True)
    lab.up("netplan")
    code: int = run_demo(lab, _say, Path(args.picture).resolve())
    return code


def _image(args: argparse.Namespace) -> int:
    from tightrope.lab import image

    img = image.ensure()
    print(json.dumps({"dir": str(img.dir), **img.info}, indent=2))
    return 0


def register(sub: Any) -> None:
    about = ("A Debian VM box with NetworkManager, eth0 + wlan0, wired to a LAN and a laptop "
             "in network namespaces. See docs/lab.md.")  # fmt: skip
    p = sub.add_parser("lab", help="a throwaway VM box to rehearse on (needs root)",
                       description=about)  # fmt: skip
    lsub = p.add_subparsers(dest="lab_command", metavar="ACTION")
    lsub.required = True

    def action(
        name: str, func: Any, help: str, box: bool = True, lab: str = "lab"
    ) -> argparse.ArgumentParser:
        a: argparse.ArgumentParser = lsub.add_parser(name, help=help, description=help)
        a.add_argument("--name", default=lab, help=f"which lab (default: {lab})")
        if box:
            a.add_argument("--box", type=int, default=0, help="which box (default: 0)")
        a.set_defaults(func=_as_root(func))
        return a

    up = action("up", _up, "build the image if needed, boot a box, leave it running", box=False)
    up.add_argument("--state", action="append", choices=["netplan", "rpios", "trixie"],
                    help="start state, repeated for more boxes (default: netplan)")  # fmt: skip
    ssh = action("ssh", _ssh, "SSH into the box from the laptop namespace")
    ssh.add_argument("--host", help="address to connect to (default: the box's eth0 address)")
    ssh.add_argument("cmd", nargs=argparse.REMAINDER, help="command to run (after --)")
    action("pull-cable", _cable(False), "unplug the box's Ethernet cable (eth0)")
    action("plug-cable", _cable(True), "plug the box's Ethernet cable back in")
    action("cut-path", _path(False),
           "keep eth0's cable plugged and its link up, but cut it off the LAN (a dead path)")
    action("mend-path", _path(True), "join eth0's cable to the LAN again after cut-path")
    rb = action("reboot", _reboot, "reboot the box cleanly and wait for SSH")
    rb.add_argument("--host", help="address to reach the box at")
    pc = action("power-cut", _power_cut, "cut the box's power and switch it on again")
    pc.add_argument("--off", type=float, default=0.0, help="seconds without power (default: 0)")
    pc.add_argument("--no-wait", dest="wait", action="store_false", help="do not wait for SSH")
    pc.add_argument("--host", help="address to wait for")
    sv = action("snapshot", _snapshot, "save the whole running box under a name")
    sv.add_argument("snap", metavar="NAME")
    rs = action("restore", _restore, "return the box to a saved snapshot")
    rs.add_argument("snap", metavar="NAME")
    pg = action("ping", _ping, "ping from the laptop and report the longest outage", box=False)
    pg.add_argument("target")
    pg.add_argument("--seconds", type=float, default=5.0, help="how long (default: 5)")
    pg.add_argument("--interval", type=float, default=0.01,
                    help="seconds between probes (default: 0.01)")  # fmt: skip
    st = action("status", _status, "show the labs that are up", box=False)
    st.set_defaults(name=None)
    st.add_argument("--json", action="store_true")
    dn = action("down", _down, "stop the box(es) and remove the lab's namespaces", box=False)
    dn.add_argument("--all", action="store_true",
                    help="remove every lab, including leftovers of crashed runs")  # fmt: skip
    action("image", _image, "build the lab image if needed and print its build record", box=False)
    demo = action("demo", _demo, "boot a netplan box and run the seed's journey with tightrope "
                  "from the laptop, command by command; the box stays up", box=False,
                  lab="demo")  # fmt: skip
    demo.add_argument("--picture", default="tightrope-demo-drill.png",
                      help="where the drill's timeline goes (default: %(default)s)")  # fmt: skip
