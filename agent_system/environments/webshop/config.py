"""``env.webshop.*``, checked by ``WebShopFamily.check_config``. Stdlib only: the config schema loads this
file alone (agent_system/environments/builtin_configs.py)."""
from dataclasses import dataclass
from typing import Optional

from skillrl.registry import ENV_CONFIGS


@ENV_CONFIGS.register("webshop")
@dataclass
class WebshopConfig:
    data_path: Optional[str] = None  # None: $WEBSHOP_DATA
    use_small: bool = True  # the 1000-product files
    human_goals: bool = False  # synthetic goals, as SkillRL; true: the human-written instructions
    # success: 10.0 for a perfect purchase, else 0 (what SkillRL trains on); score: the paper's graded
    # reward. info["task_score"] always carries the graded score.
    reward_type: str = "success"
    # Index ranges of the shuffled goals: [0, num_test_goals) test; validation [num_test_goals,
    # + num_valid_goals), or the test goals when num_valid_goals=0 (SkillRL's split: validation
    # [0, 500), training [500, end)); 1000 gives WebShop's baselines' split. Training: the rest.
    num_test_goals: int = 500
    num_valid_goals: int = 0
