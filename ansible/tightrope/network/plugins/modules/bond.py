#!/usr/bin/python
# Copyright: tightrope developers
# MIT License (see the collection's README)
# ruff: noqa: E402  (Ansible wants the documentation strings before the imports)

from __future__ import annotations

DOCUMENTATION = r"""
module: bond
short_description: Join Ethernet and Wi-Fi into an active-backup bond as a confirmed transaction
version_added: 0.1.0
description:
  - Plans, and with O(state=present) starts, tightrope's transaction on the box, which turns
    the named ports (typically C(eth0) and C(wlan0)) into one active-backup bond under a
    NetworkManager checkpoint.
  - The task returns at once, with the transaction id, the address the box will answer at
    (RV(reconnect_at)), and the latest moment NetworkManager rolls the change back by itself
    (RV(rollback_deadline)) unless M(tightrope.network.confirm) runs from the new address first.
  - So a play that changes the address it connects through does not lose its host for good;
    switch C(ansible_host) to RV(reconnect_at), run M(ansible.builtin.wait_for_connection),
    then M(tightrope.network.confirm). The role C(tightrope.network.journey) does exactly that.
  - The options O(bond), O(ports), O(parameters), O(ipv4), O(ipv6) and O(mtu) take the same keys
    as tightrope's YAML config file; the box validates them and reports every problem at once.
  - Check mode shows the plan without changing anything; diff mode shows the plan's changes.
  - The action plugin first puts tightrope's zipapp (shipped inside this collection) into
    C(/var/cache/tightrope) on the box, unless the same file is there already.
author:
  - tightrope developers (@tightrope)
requirements:
  - Python 3.10 or later and NetworkManager on the box; root there (connect as root or use
    become).
options:
  state:
    description:
      - V(present) starts the transaction when the plan has changes.
    type: str
    choices: [present]
    default: present
  bond:
    description:
      - The bond's interface name.
    type: str
    default: bond0
  ports:
    description:
      - "The ports, in order, as in the config file, e.g.
        C({eth0: {type: ethernet}, wlan0: {type: wifi, ssid: HomeWiFi}})."
      - Never put the PSK here; use O(psk) or O(psks).
    type: dict
    required: true
  parameters:
    description:
      - Bond parameters with netplan's names (C(mode), C(primary), C(mii-monitor-interval),
        C(up-delay), C(down-delay), C(fail-over-mac-policy), C(gratuitous-arp),
        C(peer-notify-delay)); or, instead of the MII keys, the ARP monitor (C(arp-interval),
        C(arp-ip-targets), C(arp-validate), C(arp-all-targets), C(arp-missed-max));
        tightrope's defaults otherwise (the ARP monitor asking the gateway every 100 ms when
        there is a static one, else MII every 100 ms).
    type: dict
  ipv4:
    description:
      - C(addresses) (with prefix) and C(gateway) and C(nameservers), or C(dhcp=true).
    type: dict
    required: true
  ipv6:
    description:
      - V(auto), V(disabled), or a dict with C(addresses) and C(gateway).
    type: raw
  mtu:
    description:
      - The bond's MTU.
    type: int
  psk:
    description:
      - The Wi-Fi PSK when the bond has one Wi-Fi port. Never logged; it reaches the box on the
        zipapp's standard input only.
    type: str
  psks:
    description:
      - Interface name to PSK, for several Wi-Fi ports. Never logged.
    type: dict
  confirm_timeout:
    description:
      - Seconds to confirm from the new address, once the bond is verified, before the box
        rolls back.
    type: int
    default: 120
  verify_timeout:
    description:
      - Seconds for the bond and Wi-Fi to come up and be verified before the box rolls back.
    type: int
    default: 60
  auto_confirm:
    description:
      - Commit on the box once the gateway and the controller's SSH connection answer through
        the bond, without M(tightrope.network.confirm).
    type: bool
    default: false
  verify_all_ports:
    description:
      - Wait for every port before the change may be confirmed, and roll it back if a Wi-Fi
        port cannot join (wrong PSK, SSID not in range). By default a Wi-Fi port still
        joining is not waited for once another port carries the bond, and the result says
        what is wrong with it.
    type: bool
    default: false
  pyz:
    description:
      - Path of tightrope's zipapp on the box. Set by the action plugin, which copies it there;
        leave it unset.
    type: path
attributes:
  check_mode:
    description: Shows the plan, changes nothing.
    support: full
  diff_mode:
    description: Shows the plan's changes.
    support: full
  platform:
    description: Linux boxes with NetworkManager.
    support: full
    platforms: posix
notes:
  - Enable pipelining (or connect as root) so the module's arguments, PSK included, are not
    written to a temporary file on the box.
seealso:
  - module: tightrope.network.confirm
  - module: tightrope.network.facts
"""

EXAMPLES = r"""
- name: Start the change (returns at once)
  tightrope.network.bond:
    ports:
      eth0: {type: ethernet}
      wlan0: {type: wifi, ssid: HomeWiFi}
    ipv4:
      addresses: [192.168.1.64/24]
      gateway: 192.168.1.1
      nameservers: {addresses: [192.168.1.1]}
    psk: "{{ vault_wifi_psk }}"
  register: bond

- name: Follow the box to its new address
  ansible.builtin.set_fact:
    ansible_host: "{{ bond.reconnect_at }}"
  when: bond.changed and bond.reconnect_at

- name: Wait until it answers there
  ansible.builtin.wait_for_connection:
    timeout: "{{ bond.verify_timeout_s + bond.confirm_timeout_s }}"
  when: bond.changed

- name: Commit, proving the new address works
  tightrope.network.confirm:
    txn: "{{ bond.txn }}"
  when: bond.changed
"""

RETURN = r"""
host:
  description: The box's host name.
  returned: success
  type: str
nm_version:
  description: NetworkManager's version on the box.
  returned: success
  type: str
reconnect_at:
  description: The address the box answers at after the change (null with DHCP).
  returned: success
  type: str
  sample: 192.168.1.64
storage_world:
  description: Where NetworkManager keeps profiles on this box (C(keyfile) or C(netplan)).
  returned: success
  type: str
plan:
  description: tightrope's plan (changes, warnings, discovery, storage); never holds a secret.
  returned: success
  type: dict
txn:
  description: The transaction's id.
  returned: when a transaction was started
  type: str
phase:
  description: The transaction's phase when the box answered.
  returned: when a transaction was started
  type: str
confirm_timeout_s:
  description: Seconds the box waits for confirmation once the bond is verified.
  returned: when a transaction was started
  type: int
verify_timeout_s:
  description: Seconds the box gives the bond to come up.
  returned: when a transaction was started
  type: int
started_at:
  description: When the transaction started (epoch seconds, the box's clock).
  returned: when a transaction was started
  type: float
rollback_deadline:
  description: The latest moment (epoch seconds, the box's clock) the box rolls back unless
    confirmed.
  returned: when a transaction was started
  type: float
rollback_deadline_iso:
  description: RV(rollback_deadline) in UTC, ISO 8601.
  returned: when a transaction was started
  type: str
"""

import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tightrope.network.plugins.module_utils.agent import (
    AgentError,
    ask_plan,
    ask_start,
    diff_text,
    module_runner,
    plan_request,
    plan_result,
    plan_warnings,
    start_request,
    started_result,
)

ARGUMENT_SPEC = {
    "state": {"type": "str", "choices": ["present"], "default": "present"},
    "bond": {"type": "str", "default": "bond0"},
    "ports": {"type": "dict", "required": True},
    "parameters": {"type": "dict"},
    "ipv4": {"type": "dict", "required": True},
    "ipv6": {"type": "raw"},
    "mtu": {"type": "int"},
    "psk": {"type": "str", "no_log": True},
    "psks": {"type": "dict", "no_log": True},
    "confirm_timeout": {"type": "int", "default": 120},
    "verify_timeout": {"type": "int", "default": 60},
    "auto_confirm": {"type": "bool", "default": False},
    "verify_all_ports": {"type": "bool", "default": False},
    "pyz": {"type": "path"},
}


def run_module() -> None:
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        mutually_exclusive=[("psk", "psks")],
    )
    run = module_runner(module)

    pyz = module.params["pyz"]
    try:
        req = plan_request(module.params)
        planned = ask_plan(run, sys.executable, pyz, req)
        started = None
        if not module.check_mode and not planned.plan.get("no_change", False):
            # A second conversation: the box starts only the plan it just showed (its
            # fingerprint), and refuses, changing nothing, if anything moved in between.
            started = ask_start(run, sys.executable, pyz, start_request(req, planned.fingerprint))
    except AgentError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    for warning in plan_warnings(planned.plan):
        module.warn(warning)
    result = (started_result(planned, started, req.options) if started is not None
              else plan_result(planned))  # fmt: skip
    if module._diff and result["changed"]:
        result["diff"] = {"prepared": diff_text(planned.plan)}
    module.exit_json(**result)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
