"""The original SkillRL recipes' flags (original_recipes.json) compose and validate as written.

Each goes through what ``python -m skillrl.main_ppo`` does before it starts Ray: the override-key
check, Hydra composition with ``+key`` read as ``++key``, the typed schema, validation, the
no-effect warnings and the epochs-instead-of-steps rule. No training.
"""
from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest
from hydra.core.override_parser.overrides_parser import OverridesParser

from skillrl.config import check_override_keys, compat, load_config
from skillrl.config.schema import PPOConfig
from skillrl.main_ppo import epochs_instead_of_steps

DATA = json.loads(Path(__file__).with_name("original_recipes.json").read_text())["recipes"]
REPO = Path(__file__).resolve().parents[3]
CASES = sorted(DATA)


def _local_files(home: Path, reference) -> None:
    """What the recipes' $HOME paths point at: the memory files they name (the dummy parquet files
    have no effect and are not read). ``reference``: the original's published files, or None."""
    memory = home / "verl-agent" / "memory_data"
    (memory / "webshop").mkdir(parents=True)
    (memory / "webshop" / "claude_style_skills.json").symlink_to(REPO / "memory_data/webshop/claude_style_skills.json")
    (memory / "alfworld" / "new_memories").mkdir(parents=True)
    if reference is not None:
        (memory / "alfworld" / "generated_memories_alfworld_total.json").symlink_to(
            reference / "generated_memories_alfworld_total.json")


def _flags(name: str, home: Path) -> list:
    return [f.replace("$HOME", str(home)).replace("$MODEL_PATH", "builtin:tiny") for f in DATA[name]]


def _compose(flags: list) -> PPOConfig:
    check_override_keys(flags, PPOConfig)
    cfg = load_config("ppo_trainer", flags)
    epochs_instead_of_steps(cfg, flags)
    return cfg


def _value(cfg: PPOConfig, key: str):
    for part in key.split("."):
        cfg = getattr(cfg, part)
    return cfg


@pytest.mark.parametrize("name", CASES)
def test_original_recipe_composes_and_validates(name, tmp_path, monkeypatch, request):
    monkeypatch.setattr(compat, "_warned", set())  # once per process: this test's process is shared
    # the raw-trajectory memory baseline reads the original's published memories
    _local_files(tmp_path, request.getfixturevalue("skillrl_reference") if name == "run_alfworld.sh" else None)
    flags = _flags(name, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cfg = _compose(flags)
        _compose(flags)  # a second composition in the same process warns no more
    warned = [str(w.message).split("=", 1)[0] for w in caught if issubclass(w.category, compat.RecipeKeyWarning)]
    keys = [f.lstrip("+").split("=", 1)[0] for f in flags]
    assert sorted(warned) == sorted(k for k in keys if k in compat.NO_EFFECT), "each no-effect key warns once"
    for flag, override in zip(flags, OverridesParser.create().parse_overrides(flags)):
        key = override.key_or_group
        if key in compat.NO_EFFECT:
            continue
        assert _value(cfg, key) == override.value(), f"{name}: {flag} composed to {_value(cfg, key)!r}"
    if "trainer.total_epochs" in keys:  # sized in epochs, as verl reads these recipes
        assert cfg.trainer.total_training_steps is None


def test_the_flags_are_the_recipes_own(skillrl_reference):
    """The test data lists every flag of each shell recipe, in order (a check of the copy)."""
    shared = sorted(p.name for p in (skillrl_reference / "recipes").glob("*.sh"))
    assert shared == sorted(DATA)
    for name, flags in DATA.items():
        body = (skillrl_reference / "recipes" / name).read_text().split("-m verl.trainer.main_ppo", 1)[1]
        assert re.findall(r"^\s+([+\w.]+)=", body, re.M) == [f.split("=", 1)[0] for f in flags], name
