#!/usr/bin/python
# Copyright: tightrope developers
# MIT License (see the collection's README)
# ruff: noqa: E402  (Ansible wants the documentation strings before the imports)

from __future__ import annotations

DOCUMENTATION = r"""
module: facts
short_description: tightrope's view of the box's network as facts
version_added: 0.1.0
description:
  - Reads the box's bonds, their ports and active port, every Ethernet and Wi-Fi device with
    what claims it, and where NetworkManager keeps profiles (the storage world), as
    C(tightrope status --json) shows them, into the fact C(tightrope).
author:
  - tightrope developers (@tightrope)
options:
  bond:
    description:
      - The bond whose status is copied to C(tightrope.bond) and C(tightrope.active_port).
        Default the first bond.
    type: str
  pyz:
    description:
      - Path of tightrope's zipapp on the box. Set by the action plugin; leave it unset.
    type: path
attributes:
  check_mode:
    description: Reads only.
    support: full
  diff_mode:
    description: No diff.
    support: none
  facts:
    description: Sets the fact C(tightrope).
    support: full
  platform:
    description: Linux boxes with NetworkManager.
    support: full
    platforms: posix
seealso:
  - module: tightrope.network.bond
"""

EXAMPLES = r"""
- name: Read the bond's state
  tightrope.network.facts:

- name: Show which port carries the traffic
  ansible.builtin.debug:
    msg: "{{ tightrope.bond.name }} is on {{ tightrope.active_port }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts added.
  returned: always
  type: complex
  contains:
    tightrope:
      description:
        - C(hostname), C(nm_version), C(storage_world) (C(keyfile) or C(netplan)), C(bonds)
          (each with C(name), C(mode), C(active_port), C(primary), C(ports), C(addresses)),
          C(devices), C(checkpoints), and C(bond) and C(active_port) for the chosen bond.
      returned: always
      type: dict
"""

import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tightrope.network.plugins.module_utils.agent import (
    AgentError,
    module_runner,
    status_facts,
)

ARGUMENT_SPEC = {
    "bond": {"type": "str"},
    "pyz": {"type": "path"},
}


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run = module_runner(module)

    try:
        facts = status_facts(run, sys.executable, module.params["pyz"], module.params["bond"])
    except AgentError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    module.exit_json(changed=False, ansible_facts={"tightrope": facts})


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
