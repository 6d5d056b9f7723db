"""``env.household.*``, checked by ``HouseholdFamily.check_config``. Stdlib only: the config schema loads this
file alone (agent_system/environments/builtin_configs.py)."""
from dataclasses import dataclass
from typing import List, Optional

from skillrl.registry import ENV_CONFIGS


@ENV_CONFIGS.register("household")
@dataclass
class HouseholdConfig:
    size: int = 1  # 1 (smallest rooms) .. 5
    num_train_tasks: int = 512
    num_val_tasks: int = 64
    task_types: Optional[List[str]] = None  # None: all six
    # The expert policy=expert plays: oracle (knows where everything is: the shortest solution) or
    # search (uses only what the agent has seen, searching likely places first: the one to imitate).
    expert: str = "oracle"
