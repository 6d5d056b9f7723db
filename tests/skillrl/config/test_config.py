"""Every shipped YAML and recipe composes and validates; bad keys and values fail with a fix."""
from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from skillrl.config import CONFIG_DIR, load_config, normalize_overrides
from skillrl.config.schema import EvalConfig, PPOConfig, SFTConfig

REPO = Path(__file__).resolve().parents[3]
YAMLS = sorted(Path(CONFIG_DIR).glob("*.yaml"))
RECIPES = sorted((REPO / "examples").rglob("*.sh"))


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_every_shipped_yaml_composes(path):
    cfg = load_config(path.stem)
    assert isinstance(cfg, (PPOConfig, EvalConfig, SFTConfig))


def test_example_yamls_compose():
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        load_config(path.stem, config_dir=str(path.parent))


def _recipe_overrides(script: Path):
    """The Hydra overrides a recipe passes to a skillrl entry point, shell variables filled in."""
    text = script.read_text().replace("\\\n", " ")
    m = re.search(r"-m (skillrl\.main_\w+)(.*)", text)
    if not m:
        return None, []
    env = {"MODEL_PATH": "builtin:tiny", "ALFWORLD_DATA": "/tmp", "HOME": "/tmp", "PWD": str(REPO)}
    for k, v in re.findall(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=([^\s]+)", text, re.M):
        env.setdefault(k, v.strip("'\""))
    body = m.group(2).split("\n")[0] if "\n" in m.group(2) else m.group(2)
    body = re.sub(r"\$\{(\w+)(:-([^}]*))?\}", lambda x: env.get(x.group(1), x.group(3) or "1"), body)
    body = re.sub(r"\$(\w+)", lambda x: env.get(x.group(1), "1"), body)
    args = [a for a in shlex.split(body) if a not in ('"$@"', "$@") and not a.startswith(("|", ">", "2>"))]
    return m.group(1), [a for a in args if "=" in a]


@pytest.mark.parametrize("script", RECIPES, ids=lambda p: p.name)
def test_recipes_compose(script):
    entry, overrides = _recipe_overrides(script)
    if entry is None:
        pytest.skip(f"{script.name} calls no skillrl entry point")
    name = {"skillrl.main_ppo": "ppo_trainer", "skillrl.main_eval": "eval", "skillrl.main_sft": "sft_trainer"}[entry]
    load_config(name, overrides)


def test_original_plus_flags_are_accepted():
    cfg = load_config("ppo_trainer", [
        "+env.use_skills_only_memory=True",
        "+env.skills_only_memory.skills_json_path=memory_data/alfworld/claude_style_skills.json",
        "+env.skills_only_memory.retrieval_mode=embedding",
        "+env.skills_only_memory.top_k=6",
        "+env.skills_only_memory.update_threshold=0.4",
    ])
    assert cfg.env.skills_only_memory.retrieval_mode == "embedding"
    assert cfg.env.skills_only_memory.update_threshold == 0.4
    assert normalize_overrides(["+a=1", "++b=2", "c=3"]) == ["++a=1", "++b=2", "c=3"]


def test_unknown_key_fails_naming_it():
    with pytest.raises(ConfigCompositionException) as e:
        load_config("ppo_trainer", ["trainer.totl_steps=3"])
    assert "totl_steps" in str(e.value) + str(e.value.__cause__)


def test_unknown_plus_key_fails_with_a_suggestion():
    # The original recipes' "+key=" becomes "++key=", which Hydra would add silently.
    with pytest.raises(ValueError, match=r"env\.skills_only_memory\.topk; did you mean env\.skills_only_memory\.top_k"):
        load_config("ppo_trainer", ["+env.skills_only_memory.topk=3"])


def test_wrong_type_fails():
    with pytest.raises(ConfigCompositionException) as e:
        load_config("ppo_trainer", ["data.train_batch_size=lots"])
    assert "train_batch_size" in str(e.value) + str(e.value.__cause__)


@pytest.mark.parametrize(
    "override, key",
    [
        ("algorithm.adv_estimator=ppo", "algorithm.adv_estimator"),
        ("actor_rollout_ref.actor.loss_agg_mode=sum", "loss_agg_mode"),
        ("env.rollout.n=1", "env.rollout.n"),
        ("env.skills_only_memory.update_threshold=1.5", "update_threshold"),
        ("env.env_name=minecraft", "env.env_name"),
        ("actor_rollout_ref.rollout.name=sglang", "rollout.name"),
        ("data.truncation=middle", "data.truncation"),
        ("actor_rollout_ref.actor.clip_ratio_c=0.5", "clip_ratio_c"),
    ],
)
def test_impossible_values_fail_with_the_key(override, key):
    with pytest.raises(ValueError, match=re.escape(key)):
        load_config("ppo_trainer", [override])


def test_defaults_live_in_the_schema():
    # The YAML only overrides: composing with no overrides equals the dataclass defaults apart from
    # the keys the YAML sets.
    cfg = load_config("ppo_trainer")
    assert cfg.data == PPOConfig().data
    assert cfg.algorithm == PPOConfig().algorithm
