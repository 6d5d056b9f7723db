"""Every config key is read somewhere, or it is in the recipe-compatibility table (and warns).

A static check: a key counts as read when its last name appears in the packages' source outside
the schema, as an attribute (``.name``) or a string (``"name"``, for getattr and dict access).
"""
from __future__ import annotations

import dataclasses
import re
import sys
import typing
from pathlib import Path
from typing import Iterator, Tuple

from skillrl.config import compat, schema

REPO = Path(__file__).resolve().parents[3]
SCHEMAS = (schema.PPOConfig, schema.EvalConfig, schema.CollectConfig, schema.SFTConfig)
PACKAGES = ("skillrl", "agent_system", "skill_generation")


def _source() -> str:
    texts = []
    for pkg in PACKAGES:
        for path in sorted((REPO / pkg).rglob("*.py")):
            if path.resolve() != Path(schema.__file__).resolve():
                texts.append(path.read_text(encoding="utf-8"))
    return "\n".join(texts)


def _ours(cls: type) -> bool:
    """Declared in the packages (an environment config group of a test file is that file's business)."""
    path = Path(getattr(sys.modules.get(cls.__module__), "__file__", None) or "/").resolve()
    return any(path.is_relative_to(REPO / pkg) for pkg in PACKAGES)


def _leaves(cls: type, prefix: str = "") -> Iterator[Tuple[str, str]]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            if _ours(hints[f.name]):
                yield from _leaves(hints[f.name], f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f.name


def test_every_key_is_read_or_in_the_compat_table():
    src = _source()
    unread = set()
    for cls in SCHEMAS:
        for key, name in _leaves(cls):
            if key in compat.NO_EFFECT:
                continue
            if not re.search(rf"\.{re.escape(name)}\b|[\"']{re.escape(name)}[\"']", src):
                unread.add(key)
    assert not unread, (f"config keys that nothing reads: {sorted(unread)}; read them, remove them, or (if the "
                        "original recipes pass them) add them to skillrl/config/compat.py NO_EFFECT")


def test_compat_keys_exist_and_default_to_none():
    """A no-effect key must be declared (so the recipe parses) and unset by default (so only a recipe warns)."""
    for key in compat.NO_EFFECT:
        obj = schema.PPOConfig()
        for part in key.split("."):
            assert hasattr(obj, part), f"{key} in compat.NO_EFFECT is not a PPOConfig key"
            obj = getattr(obj, part)
        assert obj is None, f"{key} defaults to {obj!r}; a no-effect key defaults to None"
