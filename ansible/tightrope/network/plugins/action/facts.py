# Copyright: tightrope developers
# MIT License (see the collection's README)
"""tightrope.network.facts: put tightrope's zipapp on the box, then run the module."""

from __future__ import annotations

from ansible_collections.tightrope.network.plugins.plugin_utils.zipapp import ZipappAction


class ActionModule(ZipappAction):
    MODULE = "tightrope.network.facts"
