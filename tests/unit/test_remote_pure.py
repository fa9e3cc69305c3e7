from __future__ import annotations

import json
from ipaddress import IPv4Interface

import pytest

from tests.unit.test_plan import PSK, seed_config
from tightrope.errors import UsageError
from tightrope.remote.hosts import parse_hosts_file
from tightrope.remote.journey import request_config
from tightrope.remote.ssh import Ssh, SshOptions
from tightrope.remote.target import Target, parse_target


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("pi@192.168.1.50", Target("192.168.1.50", "pi")),
        ("raspberrypi", Target("raspberrypi")),
        ("pi@box:2222", Target("box", "pi", 2222)),
        ("root@[2001:db8::1]:22", Target("2001:db8::1", "root", 22)),
        ("2001:db8::1", Target("2001:db8::1")),
    ],
)
def test_parse_target(text: str, target: Target) -> None:
    assert parse_target(text) == target


@pytest.mark.parametrize("text", ["", "-oProxyCommand=x", "pi@", "a b", "pi@box:99999", "[::1"])
def test_bad_targets_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        parse_target(text)


def test_hosts_file_plain_and_yaml() -> None:
    plain = parse_hosts_file("# lab\npi@198.18.1.50\n\nroot@198.18.1.60:22  # second\n")
    assert [str(e.target) for e in plain] == ["pi@198.18.1.50", "root@198.18.1.60:22"]
    rich = parse_hosts_file("- {host: pi@198.18.1.50, address: 198.18.1.64/24}\n- box2\n")
    assert rich[0].address == IPv4Interface("198.18.1.64/24") and rich[1].address is None
    config = rich[0].adapt(seed_config())
    assert str(config.ipv4.addresses[0]) == "198.18.1.64/24"
    with pytest.raises(UsageError):
        parse_hosts_file("- {address: 1.2.3.4/24}\n")


def test_request_carries_psk_only_in_its_field_and_no_local_sources() -> None:
    data, psk = request_config(seed_config())
    assert psk == {"wlan0": PSK}
    assert "psk-env" not in data["ports"]["wlan0"]
    assert PSK not in json.dumps(data)


def test_ssh_argv_follows_the_box_with_its_old_host_key_and_identity() -> None:
    ssh = Ssh(Target("box", "pi", 2222), SshOptions(options=("IdentityFile=k",),
                                                    accept_new_host_key=True))
    ssh.known_name = "[198.18.1.50]:2222"
    there = ssh.at("198.18.1.64")
    argv = there.argv("true")
    # the user's own destination after `--`, only HostName changed, key checked by its name
    assert argv[-3:] == ["--", "pi@box", "true"]
    assert "HostName=198.18.1.64" in argv and "HostKeyAlias=[198.18.1.50]:2222" in argv
    assert "StrictHostKeyChecking=yes" in argv
    assert "StrictHostKeyChecking=accept-new" not in argv
    # ssh takes the first value given: ours come before the user's options
    assert argv.index("StrictHostKeyChecking=yes") < argv.index("IdentityFile=k")
    assert argv[argv.index("-p") + 1] == "2222"
    with pytest.raises(ValueError):
        ssh.at("-oProxyCommand=touch /tmp/x")
    ssh.close()


def test_ssh_g_output_names_the_key_as_known_hosts_stores_it() -> None:
    from tightrope.remote.identity import names_to_try, parse_ssh_g

    text = ("user root\nhostname 198.18.1.50\nport 2222\nproxyjump jump@198.18.1.1\n"
            "identityfile ~/.ssh/id_ed25519\nuserknownhostsfile /tmp/kh /tmp/kh2\n"
            "globalknownhostsfile /etc/ssh/ssh_known_hosts\n")  # fmt: skip
    who = parse_ssh_g(text)
    assert (who.user, who.port, who.proxyjump) == ("root", 2222, "jump@198.18.1.1")
    assert who.known_hosts_name == "[198.18.1.50]:2222"
    assert names_to_try(who) == ("[198.18.1.50]:2222", "198.18.1.50")
    assert who.known_hosts_files == ("/tmp/kh", "/tmp/kh2", "/etc/ssh/ssh_known_hosts")
    aliased = parse_ssh_g(text + "hostkeyalias pibox\n")
    assert aliased.known_hosts_name == "pibox" and names_to_try(aliased) == ("pibox",)
    assert parse_ssh_g("hostname box\nport 22\n").known_hosts_name == "box"
