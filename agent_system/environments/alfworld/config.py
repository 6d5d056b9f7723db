"""``env.alfworld.*``, checked by ``AlfworldFamily.check_config``. Stdlib only: the config schema loads this
file alone (agent_system/environments/builtin_configs.py)."""
from dataclasses import dataclass
from typing import List, Optional

from skillrl.registry import ENV_CONFIGS


@ENV_CONFIGS.register("alfworld")
@dataclass
class AlfworldConfig:
    data_path: Optional[str] = None  # None: $ALFWORLD_DATA
    eval_dataset: str = "eval_in_distribution"  # eval_in_distribution | eval_out_of_distribution
    speedups: bool = True  # cache pure parts of the TextWorld engine
    task_types: Optional[List[str]] = None  # None: all six
    # Once an episode leaves the game's walkthrough, ask fast-downward for a new expert plan
    # (info["expert_plan"]); off by default: one replan can take tens of seconds.
    expert_replan: bool = False
