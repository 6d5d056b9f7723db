"""The ``household`` environment family: task splits, environments, prompts, projection, expert.

Splits: ``train`` has ``env.household.num_train_tasks`` tasks, ``valid`` has
``env.household.num_val_tasks``; ``valid_seen``, ``valid_unseen`` and ``test`` name the same
validation tasks (there is no scene/unseen-scene distinction in generated rooms). Task ``i`` of a
split has type ``task_types[i % len(task_types)]`` (so every type is equally represented) and
seed ``derive_seed(env.seed, split, i)``; ids read ``household/<split>/<i>``.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from agent_system.environments.base import EnvFamily, TaskSpec, register_env_family
from agent_system.environments.household.catalog import TASK_TYPES
from agent_system.environments.household.engine import HouseholdEnv
from agent_system.environments.household.world import MAX_SIZE, MIN_SIZE, derive_seed
from agent_system.environments.projection import project_actions
from agent_system.environments.prompts import HOUSEHOLD_TEMPLATES

logger = logging.getLogger(__name__)

VALID_ALIASES = ("valid", "valid_seen", "valid_unseen", "test")


def _task_types(selected: Optional[List[str]]) -> List[str]:
    if not selected:
        return list(TASK_TYPES)
    unknown = [t for t in selected if t not in TASK_TYPES]
    if unknown:
        raise ValueError(f"env.household.task_types has unknown type(s) {unknown}; use names from {list(TASK_TYPES)}")
    return list(selected)


@register_env_family("household")
class HouseholdFamily(EnvFamily):
    name = "household"
    templates = HOUSEHOLD_TEMPLATES

    def __init__(self, env_cfg: Any):
        super().__init__(env_cfg)
        hh = env_cfg.household
        if not MIN_SIZE <= int(hh.size) <= MAX_SIZE:
            raise ValueError(f"env.household.size={hh.size} must be between {MIN_SIZE} and {MAX_SIZE}")
        for key in ("num_train_tasks", "num_val_tasks"):
            if int(getattr(hh, key)) < 1:
                raise ValueError(f"env.household.{key}={getattr(hh, key)} must be >= 1")
        self.types = _task_types(hh.task_types)

    @staticmethod
    def project_actions(model_outputs, admissible=None):
        return project_actions(model_outputs, admissible)

    def tasks(self, split: str) -> List[TaskSpec]:
        hh = self.env_cfg.household
        if split == "train":
            name, n = "train", int(hh.num_train_tasks)
        elif split in VALID_ALIASES:
            name, n = "valid", int(hh.num_val_tasks)
        else:
            raise ValueError(f"household has no split {split!r}; use train or valid (valid_seen/valid_unseen/test "
                             "name the same validation tasks)")
        out = []
        for i in range(n):
            seed = derive_seed(self.env_cfg.seed, name, i)
            out.append(TaskSpec(task_id=f"household/{name}/{i}", split=name,
                                task_type=self.types[i % len(self.types)],
                                payload={"seed": seed, "size": int(hh.size)}))
        return out

    def make_env(self) -> HouseholdEnv:
        hh = self.env_cfg.household
        return HouseholdEnv(max_steps=self.env_cfg.max_steps, default_size=hh.size, expert=hh.expert)

    def expert_action(self, task: TaskSpec, observation: str, info: Dict[str, Any]) -> Optional[str]:
        # The environment runs the expert (env.household.expert) on its state and reports its next command.
        return info.get("expert_action")

    def expert_thought(self, task: TaskSpec, info: Dict[str, Any]) -> Optional[str]:
        return info.get("expert_thought") or None
