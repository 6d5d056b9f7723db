"""Every shipped YAML and recipe composes and validates; bad keys and values fail with a fix."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hydra.errors import ConfigCompositionException

from skillrl.config import CONFIG_DIR, load_config, normalize_overrides
from skillrl.config.schema import CollectConfig, EvalConfig, PPOConfig, SFTConfig

REPO = Path(__file__).resolve().parents[3]
YAMLS = sorted(Path(CONFIG_DIR).glob("*.yaml"))
# Shell recipes that launch a skillrl entry point (launchers of side services are not recipes).
RECIPES = sorted(p for p in (REPO / "examples").rglob("*.sh") if "skillrl.main_" in p.read_text())


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.name)
def test_every_shipped_yaml_composes(path):
    cfg = load_config(path.stem)
    assert isinstance(cfg, (PPOConfig, EvalConfig, SFTConfig, CollectConfig))


def test_example_yamls_compose():
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        load_config(path.stem, config_dir=str(path.parent))


ENTRY_CONFIGS = {"skillrl.main_ppo": "ppo_trainer", "skillrl.main_eval": "eval", "skillrl.main_sft": "sft_trainer"}


def _recipe_invocations(script: Path, tmp_path: Path):
    """Run a recipe with `python`/`python3` on PATH replaced by a recorder; return its calls.

    The shell expands the recipe's own variables, so the overrides checked are exactly the ones
    a user's run would pass.
    """
    bindir = tmp_path / "bin"
    bindir.mkdir()
    log = tmp_path / "calls.jsonl"
    recorder = f"#!{sys.executable}\nimport json, sys\nopen({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
    for name in ("python", "python3"):
        (bindir / name).write_text(recorder)
        (bindir / name).chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", MODEL_PATH="builtin:tiny",
               ALFWORLD_DATA=str(tmp_path), WEBSHOP_DATA=str(tmp_path), SEARCH_DATA=str(tmp_path),
               SKILLRL_RECIPE_DRY_RUN="1")
    proc = subprocess.run(["bash", str(script)], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"{script.name} failed: {proc.stderr[-2000:]}"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return [(c[1], c[2:]) for c in calls if len(c) > 1 and c[0] == "-m" and c[1] in ENTRY_CONFIGS]


@pytest.mark.parametrize("script", RECIPES, ids=lambda p: p.name)
def test_recipes_compose(script, tmp_path):
    calls = _recipe_invocations(script, tmp_path)
    if not calls:
        pytest.skip(f"{script.name} calls no skillrl entry point")
    for entry, args in calls:
        load_config(ENTRY_CONFIGS[entry], [a for a in args if "=" in a])


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
        ("actor_rollout_ref.actor.policy_loss.loss_mode=gspo_x", "actor_rollout_ref.actor.policy_loss.loss_mode"),
        ("algorithm.kl_ctrl.type=pid", "algorithm.kl_ctrl.type"),
        ("algorithm.filter_groups.metric=acc", "algorithm.filter_groups.metric"),
        ("algorithm.filter_groups.max_num_gen_batches=-1", "algorithm.filter_groups.max_num_gen_batches"),
    ],
)
def test_impossible_values_fail_with_the_key(override, key):
    with pytest.raises(ValueError, match=re.escape(key)):
        load_config("ppo_trainer", [override])


def test_critic_keys_are_checked_only_when_the_estimator_runs_a_critic():
    assert load_config("ppo_trainer", ["critic.ppo_mini_batch_size=0"]).critic.ppo_mini_batch_size == 0  # grpo
    for override, key in (("critic.ppo_mini_batch_size=0", "critic.ppo_mini_batch_size"),
                          ("critic.cliprange_value=-1", "critic.cliprange_value"),
                          ("algorithm.lam=1.5", "algorithm.lam")):
        with pytest.raises(ValueError, match=re.escape(key)):
            load_config("ppo_trainer", ["algorithm.adv_estimator=gae", override])
    cfg = load_config("ppo_trainer", ["algorithm.adv_estimator=gae", "critic.model.path=", "trainer.critic_warmup=3"])
    assert (cfg.critic.model.path, cfg.trainer.critic_warmup, cfg.algorithm.lam) == ("", 3, 1.0)


def test_filter_groups_settings_that_cannot_filter_are_refused():
    cfg = load_config("ppo_trainer", ["algorithm.filter_groups.enable=True", "algorithm.filter_groups.max_num_gen_batches=10"])
    assert (cfg.algorithm.filter_groups.metric, cfg.algorithm.filter_groups.max_num_gen_batches) == ("seq_reward", 10)
    with pytest.raises(ValueError, match="filter_groups.enable=True compares members of a group, but env.rollout.n=1"):
        load_config("ppo_trainer", ["algorithm.filter_groups.enable=True", "env.rollout.n=1",
                                    "algorithm.adv_estimator=reinforce_plus_plus"])
    with pytest.raises(ValueError, match="metric=seq_final_reward with algorithm.use_kl_in_reward=True"):
        load_config("ppo_trainer", ["algorithm.filter_groups.enable=True", "algorithm.filter_groups.metric=seq_final_reward",
                                    "algorithm.use_kl_in_reward=True"])


def test_search_validation_cap_is_checked_by_its_family():
    with pytest.raises(ValueError, match="env.search.val_max_tasks=0"):
        load_config("ppo_trainer", ["env.env_name=search", "env.search.val_max_tasks=0"])


def test_defaults_live_in_the_schema():
    # The YAML only overrides: composing with no overrides equals the dataclass defaults apart from
    # the keys the YAML sets.
    cfg = load_config("ppo_trainer")
    assert cfg.data == PPOConfig().data
    assert cfg.algorithm == PPOConfig().algorithm


def test_original_search_url_key_is_an_alias():
    cfg = load_config("ppo_trainer", ["env.env_name=search", "+env.search.search_url=http://127.0.0.1:9/retrieve"])
    from agent_system.environments.search.family import SearchFamily  # noqa: F401  (registers the family)
    from agent_system.environments.base import make_env_family

    env = make_env_family(cfg.env).make_env()
    assert env.client.url == "http://127.0.0.1:9/retrieve"


def test_env_groups_are_declared_beside_their_families():
    """The built-in groups come from the family folders' config.py, loaded without the families."""
    from skillrl.config import schema

    env = schema.EnvConfig()
    groups = {name: type(getattr(env, name)).__module__ for name in ("alfworld", "household", "webshop", "search")}
    assert groups == {n: f"agent_system.environments.{n}.config" for n in groups}
    assert (env.household.num_train_tasks, env.webshop.num_test_goals, env.search.topk) == (512, 500, 3)
    code = ("import json, sys, skillrl.config\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('agent_system.environments.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO))).stdout
    assert json.loads(out) == sorted(["agent_system.environments.builtin_configs",
                                *(f"agent_system.environments.{n}.config" for n in groups)])


@pytest.fixture()
def forget_libgroup():
    """The group registered below comes from a module Ray's workers cannot import: every config
    built after it in this process would carry it into them, so it is unregistered afterwards."""
    from skillrl.registry import ENV_CONFIGS

    yield
    ENV_CONFIGS.unregister("libgroup")


def test_an_external_lib_on_the_command_line_brings_its_env_group(tmp_path, forget_libgroup):
    lib = tmp_path / "skillrl_test_env_group_lib.py"
    lib.write_text("from dataclasses import dataclass\nfrom skillrl.registry import ENV_CONFIGS\n\n\n"
                   "@ENV_CONFIGS.register('libgroup')\n@dataclass\nclass LibGroupConfig:\n    depth: int = 1\n")
    cfg = load_config("ppo_trainer", [f"actor_rollout_ref.model.external_lib={lib}", "env.libgroup.depth=4"])
    assert cfg.env.libgroup.depth == 4 and cfg.env.household.size == 1
    # The entry point imports the module before Hydra composes the group.
    out = subprocess.run([sys.executable, "-m", "skillrl.main_ppo", "--cfg", "job", "env.libgroup.depth=4",
                          f"actor_rollout_ref.model.external_lib={lib}"], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)), timeout=120)
    assert out.returncode == 0 and "libgroup:\n    depth: 4" in out.stdout, out.stderr[-2000:]


def test_a_config_built_after_the_external_lib_test_has_no_group_of_it(forget_libgroup):
    assert not hasattr(load_config("ppo_trainer", []).env, "libgroup")
