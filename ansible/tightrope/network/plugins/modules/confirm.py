#!/usr/bin/python
# Copyright: tightrope developers
# MIT License (see the collection's README)
# ruff: noqa: E402  (Ansible wants the documentation strings before the imports)

from __future__ import annotations

DOCUMENTATION = r"""
module: confirm
short_description: Commit a tightrope transaction from the box's new address, or report its end
version_added: 0.1.0
description:
  - Run after M(tightrope.network.bond) started a transaction, the play switched
    C(ansible_host) to the new address, and M(ansible.builtin.wait_for_connection) succeeded
    there. Reaching the box at its new address is the proof; this module then commits, so the
    new profiles go to disk and the old ones are retired.
  - If the play never gets there, NetworkManager rolls the box back by itself. With
    O(commit=false) the module only waits for the transaction to end and reports how (use it
    after finding the box again at its old address).
  - The task fails unless the transaction ends committed; its result then carries the outcome
    (for instance V(rolled-back)) and the reason the box gave.
author:
  - tightrope developers (@tightrope)
options:
  txn:
    description:
      - The transaction id (the bond task's RV(tightrope.network.bond#module:txn)). Default the
        pending one.
    type: str
  commit:
    description:
      - V(true) commits a pending transaction; V(false) never does, it only waits for the
        transaction to end and reports its outcome.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for the transaction to end, once the box was asked to commit, or with
        O(commit=false) (for instance while it rolls back).
    type: int
    default: 120
  pyz:
    description:
      - Path of tightrope's zipapp on the box. Set by the action plugin; leave it unset.
    type: path
attributes:
  check_mode:
    description: Reports the transaction's state without committing.
    support: full
  diff_mode:
    description: No diff.
    support: none
  platform:
    description: Linux boxes with NetworkManager.
    support: full
    platforms: posix
seealso:
  - module: tightrope.network.bond
"""

EXAMPLES = r"""
- name: Commit from the new address
  tightrope.network.confirm:
    txn: "{{ bond.txn }}"

- name: After a failure, back at the old address, say how the transaction ended
  tightrope.network.confirm:
    txn: "{{ bond.txn }}"
    commit: false
"""

RETURN = r"""
txn:
  description: The transaction's id.
  returned: always
  type: str
outcome:
  description: How it ended, V(committed), V(rolled-back), V(failed) or V(aborted).
  returned: always
  type: str
reason:
  description: Why it did not commit (empty when committed).
  returned: always
  type: str
phase:
  description: The transaction's last phase.
  returned: always
  type: str
reconnect_at:
  description: The address the change moved the box to.
  returned: always
  type: str
steps:
  description: The transaction's steps as the box logged them.
  returned: always
  type: list
  elements: str
"""

import sys

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.tightrope.network.plugins.module_utils.agent import (
    COMMITTED,
    AgentError,
    module_runner,
    outcome_message,
    read_txn,
    settle_txn,
    txn_summary,
)

ARGUMENT_SPEC = {
    "txn": {"type": "str"},
    "commit": {"type": "bool", "default": True},
    "timeout": {"type": "int", "default": 120},
    "pyz": {"type": "path"},
}


def run_module() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    run = module_runner(module)

    pyz, txn = module.params["pyz"], module.params["txn"]
    try:
        if module.check_mode:
            # Only look: no commit, and no waiting for a transaction a dry run did not start.
            if not txn:
                module.exit_json(changed=False, msg="check mode: nothing to confirm")
            summary = {**txn_summary(read_txn(run, sys.executable, pyz, txn)), "changed": False}
            module.exit_json(msg=outcome_message(summary), **summary)
        summary = settle_txn(run, sys.executable, pyz, txn, commit=module.params["commit"],
                             timeout=module.params["timeout"])  # fmt: skip
    except AgentError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    if summary.get("outcome") != COMMITTED:
        module.fail_json(msg=outcome_message(summary), **summary)
    module.exit_json(msg=outcome_message(summary), **summary)


def main() -> None:
    run_module()


if __name__ == "__main__":
    main()
