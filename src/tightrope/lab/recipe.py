"""What turns a bare mmdebstrap tree into the lab box. Its source text is part of the image
hash (see image.recipe_digest), so editing this file, or any asset, rebuilds the image.
"""

from __future__ import annotations

from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from tightrope.lab.net import LAB_PSK, LAB_SSID
from tightrope.lab.proc import run

LIB = "usr/local/lib/tightrope-lab"
UNITS = ("tightrope-lab-ap.service", "tightrope-lab-firstboot.service")

# Units the lab box must not run: Debian enables hostapd for /etc/hostapd (the lab runs its own
# inside netns ap), and apt's timers would only wake up to fail without a mirror.
DISABLED = ("hostapd.service",)
MASKED = ("apt-daily.timer", "apt-daily-upgrade.timer")


def _assets() -> Traversable:
    return resources.files("tightrope.lab").joinpath("assets")


def asset_names() -> list[str]:
    return sorted(p.name for p in _assets().iterdir() if p.is_file())


def asset(name: str) -> str:
    return _assets().joinpath(name).read_text()


def with_credentials(text: str) -> str:
    """Fill the build-time placeholders: the lab's own SSID and PSK, fixed constants."""
    return text.replace("{{SSID}}", LAB_SSID).replace("{{PSK}}", LAB_PSK)


def _write(tree: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = tree / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def _quiet_motd(tree: Path) -> None:
    """No message of the day at SSH logins: pam_motd runs /etc/update-motd.d at every login,
    0.45 s of each on the emulated box, and nobody in the lab reads it."""
    pam = tree / "etc/pam.d/sshd"
    lines = pam.read_text().splitlines(keepends=True)
    pam.write_text("".join("#" + ln if "pam_motd.so" in ln and not ln.startswith("#") else ln
                           for ln in lines))  # fmt: skip


def customise(tree: Path, authorized_key: str) -> None:
    """Edit the extracted tree in place: identity, SSH access, radios, AP, start states."""
    _write(tree, "etc/hostname", "tightrope-box\n")
    _write(tree, "etc/hosts", "127.0.0.1\tlocalhost\n127.0.1.1\ttightrope-box\n")
    _write(tree, "etc/fstab", "/dev/vda / ext4 rw,errors=remount-ro 0 1\n")

    (tree / "root/.ssh").mkdir(mode=0o700, parents=True, exist_ok=True)
    _write(tree, "root/.ssh/authorized_keys", authorized_key.strip() + "\n", 0o600)
    _write(tree, "etc/ssh/sshd_config.d/tightrope-lab.conf", asset("sshd-lab.conf"))
    _quiet_motd(tree)

    _write(tree, "etc/modules-load.d/tightrope-lab.conf", "mac80211_hwsim\n")
    _write(tree, "etc/modprobe.d/tightrope-lab.conf", "options mac80211_hwsim radios=2\n")
    _write(tree, "etc/NetworkManager/conf.d/90-tightrope-lab.conf", asset("nm-lab.conf"))

    _write(tree, "etc/tightrope-lab/hostapd.conf", with_credentials(asset("hostapd.conf")), 0o600)
    _write(tree, f"{LIB}/ap-setup.sh", asset("ap-setup.sh"), 0o755)
    _write(tree, f"{LIB}/firstboot.sh", asset("firstboot.sh"), 0o755)
    states = {
        "netplan/50-cloud-init.yaml": "netplan.yaml",
        "rpios/Wired connection 1.nmconnection": "wired-connection-1.nmconnection",
        "rpios/preconfigured.nmconnection": "preconfigured.nmconnection",
        # Raspberry Pi OS trixie's first boot: the renderer from netplan's own package file,
        # the devices from what cloud-init wrote (no renderer of their own).
        "trixie/00-network-manager-all.yaml": "netplan-nm-all.yaml",
        "trixie/50-cloud-init.yaml": "trixie-cloud-init.yaml",
    }
    for dest, name in states.items():
        _write(tree, f"{LIB}/states/{dest}", with_credentials(asset(name)), 0o600)
    for d in ("states", "states/netplan", "states/rpios", "states/trixie"):
        (tree / LIB / d).chmod(0o700)

    for unit in UNITS:
        _write(tree, f"etc/systemd/system/{unit}", asset(unit))
    root = f"--root={tree}"
    run(["systemctl", root, "enable", *UNITS])
    run(["systemctl", root, "disable", *DISABLED])
    run(["systemctl", root, "mask", *MASKED])

    # A persistent journal lets a test read what happened before a reboot or a power cut.
    (tree / "var/log/journal").mkdir(parents=True, exist_ok=True)
