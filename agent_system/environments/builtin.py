"""Imported by :data:`skillrl.registry.ENV_FAMILIES` the first time a name is not registered yet:
registers the built-in families. A built-in family is a folder beside this file with a
``family.py`` (found by :func:`~agent_system.environments.builtin_configs.family_folders`), so
adding one needs no list to edit; a family whose optional dependency is missing stays
unregistered."""
from __future__ import annotations

import importlib

from agent_system.environments.builtin_configs import family_folders

for _name in family_folders():
    try:
        importlib.import_module(f"agent_system.environments.{_name}")
    except ImportError as e:
        if f"agent_system.environments.{_name}" not in str(e):
            raise
