"""Imported by :data:`skillrl.registry.ENV_CONFIGS` the first time it is read: registers the config
groups of the built-in families. A built-in family is a folder beside this file with a
``family.py`` (:func:`family_folders`, which :mod:`agent_system.environments.builtin` uses too);
its ``config.py``, if it has one, declares its ``env.<name>`` group.

Each ``config.py`` is loaded on its own, under its full module name, without running its family
package's ``__init__``: the structured config schema is built when ``skillrl.config`` is imported,
and that must not import the families (their engines, prompt files and skill domains). Importing
the family package later finds the same module in ``sys.modules``. Stdlib only.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from typing import List

_HERE = os.path.dirname(os.path.abspath(__file__))
_PACKAGE = __name__.rsplit(".", 1)[0]


def family_folders() -> List[str]:
    """The names of the folders beside this file that hold a family (a ``family.py``), sorted."""
    return sorted(d for d in os.listdir(_HERE) if os.path.isfile(os.path.join(_HERE, d, "family.py")))


def _load_config_module(folder: str) -> None:
    name, path = f"{_PACKAGE}.{folder}.config", os.path.join(_HERE, folder, "config.py")
    if name in sys.modules or not os.path.isfile(path):
        return
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise


for _folder in family_folders():
    _load_config_module(_folder)
