"""Adding an environment is one family class plus one registration: a toy family defined only in
this file trains a GRPO step through ``main_ppo`` (real Ray environment workers, FSDP actor, hf
engine, the tiny model) and is evaluated through ``main_eval``, with no edit anywhere else. Its
settings are a config group declared here too (``env.toy.*``), set from the command line.

The same run checks the one seeding scheme: the final validation during training and
``main_eval`` of the exported model play the same episodes (the same texts, turn by turn, at a
different batch size) and so report the same success.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import pytest

from agent_system.environments.base import (EnvFamily, StepResult, TaskSpec, TextEnv, make_env_family,
                                            register_env_family)
from skillrl.config import check_override_keys, load_config
from skillrl.config.schema import PPOConfig
from skillrl.registry import ENV_CONFIGS


class CountEnv(TextEnv):
    """Say a number: the action is the answer's length modulo 3; right when it equals the target."""

    def reset(self, task: TaskSpec) -> Tuple[str, Dict[str, Any]]:
        self.target = int(task.payload["target"])
        return f"Answer with {self.target} characters, modulo 3.", {
            "task_description": f"say {self.target}", "task_type": task.task_type,
            "admissible_actions": ["0", "1", "2"], "won": False}

    def step(self, action: str) -> StepResult:
        won = action == str(self.target)
        return StepResult("Right." if won else "Wrong, try again.", float(won), won,
                          {"won": won, "admissible_actions": ["0", "1", "2"]})


@ENV_CONFIGS.register("toy")
@dataclass
class ToyConfig:
    """``env.toy.*``: the toy family's own settings."""

    num_val_tasks: int = 3


@register_env_family("toy", "ToyCount")
class CountFamily(EnvFamily):
    task_types = ("zero", "one", "two")
    local_pool = True

    @classmethod
    def check_config(cls, env_cfg: Any) -> None:
        if env_cfg.toy.num_val_tasks < 1:
            raise ValueError(f"env.toy.num_val_tasks={env_cfg.toy.num_val_tasks} must be >= 1")

    def tasks(self, split: str) -> List[TaskSpec]:
        n = 4 if split == "train" else self.env_cfg.toy.num_val_tasks
        return [TaskSpec(f"toy/{split}/{i}", split, self.task_types[i % 3], {"target": i % 3}) for i in range(n)]

    def make_env(self) -> TextEnv:
        return CountEnv()

    def project_actions(self, model_outputs, admissible=None):
        return [str(len(t.strip()) % 3) for t in model_outputs], [True] * len(model_outputs)

    def expert_action(self, task: TaskSpec, observation: str, info: Dict[str, Any]) -> Optional[str]:
        return str(task.payload["target"])

    def wrap_expert_action(self, action: str, reason: str) -> str:
        return "abc"[: int(action)] or "abc"


def _ship_by_value():
    # Ray's environment workers import families by module name; pytest imports this file under a
    # name they cannot import, so its classes travel by value instead.
    import ray.cloudpickle

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


COMMON = ["env.env_name=ToyCount", "env.toy.num_val_tasks=6", "env.max_steps=2", "data.max_response_length=6",
          "data.max_prompt_length=128", "env.use_skills_only_memory=false",
          "actor_rollout_ref.rollout.val_kwargs.temperature=1.0", "actor_rollout_ref.rollout.seed=11", "trainer.device=cpu"]


def test_the_family_config_group_is_set_from_overrides_and_checked():
    cfg = load_config("ppo_trainer", ["env.env_name=ToyCount", "env.toy.num_val_tasks=5"])
    assert cfg.env.toy == ToyConfig(num_val_tasks=5)
    assert len(make_env_family(cfg.env).tasks("valid")) == 5
    assert load_config("eval", []).env.toy == ToyConfig()  # the defaults, whichever family is chosen
    with pytest.raises(ValueError, match=r"env\.toy\.num_val_tasks=0 must be >= 1"):
        load_config("ppo_trainer", ["env.env_name=toy", "env.toy.num_val_tasks=0"])
    with pytest.raises(ValueError, match=r"env\.toy\.num_val_taks.*did you mean env\.toy\.num_val_tasks"):
        check_override_keys(["env.toy.num_val_taks=2"], PPOConfig)


@pytest.mark.slow
def test_a_family_from_a_test_file_trains_and_evaluates(tmp_path, tiny_model_dir, ray_local):
    from skillrl.main_eval import evaluate
    from skillrl.main_ppo import run_ppo

    _ship_by_value()
    run_dir = tmp_path / "run"
    cfg = load_config("ppo_trainer", [*COMMON, f"actor_rollout_ref.model.path={tiny_model_dir}",
                                      "actor_rollout_ref.rollout.name=hf", "trainer.total_training_steps=1",
                                      "data.train_batch_size=1", "env.rollout.n=2", "data.val_batch_size=-1",
                                      "trainer.val_before_train=false", "trainer.log_val_generations=100",
                                      "trainer.progress_bar=false", "actor_rollout_ref.actor.ppo_mini_batch_size=2",
                                      "env.skills_only_memory.enable_dynamic_update=false",
                                      f"trainer.default_local_dir={run_dir}"])
    result = run_ppo(cfg)
    metrics = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    assert [m["step"] for m in metrics] == [1] and metrics[0]["rollout/num_step_samples"] > 0
    assert metrics[0]["val/success_rate/zero"] is not None

    out = tmp_path / "eval.json"
    res = evaluate(load_config("eval", [*COMMON, "eval.policy=model", "eval.backend=hf", "eval.split=valid",
                                        f"actor_rollout_ref.model.path={result['hf_model']}", "eval.batch_size=4",
                                        f"eval.output={out}", f"eval.trajectories={tmp_path / 'eval.jsonl'}",
                                        "eval.progress_bar=false", f"trainer.default_local_dir={tmp_path}"]))
    assert res["pool"] == "local" and res["num_episodes"] == 6
    assert set(res["success_rate_by_task_type"]) == {"zero", "one", "two"}

    def texts(path):
        rows = [json.loads(line) for line in open(path)]
        return {r["task_id"]: [s["model_output"] for s in r["steps"]] for r in rows}

    validation = texts(run_dir / "val_generations" / "step_1.jsonl")
    evaluation = texts(tmp_path / "eval.jsonl")
    assert len(validation) == 6 and validation == evaluation  # pool of 2 vs batches of 4: the same episodes
    assert res["success_rate"] == pytest.approx(metrics[0]["val/success_rate"])
    assert os.path.isdir(result["hf_model"])
