# Copyright: tightrope developers
# MIT License (see the collection's README)
"""tightrope.network.bond: put tightrope's zipapp on the box, then run the module."""

from __future__ import annotations

from ansible_collections.tightrope.network.plugins.plugin_utils.zipapp import MovingAction


class ActionModule(MovingAction):
    MODULE = "tightrope.network.bond"
