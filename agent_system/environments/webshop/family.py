"""The ``webshop`` environment family: goals as tasks, one shop per process, the oracle expert,
and the WebShop score (``webshop_task_score``, SkillRL's name) as its extra metric."""
from __future__ import annotations

import logging
import threading
from typing import Any, Dict, List, Optional, Sequence, Tuple

from agent_system.environments.base import EnvFamily, TaskSpec, TextEnv, register_env_family
from agent_system.environments.webshop.catalog import load_catalog, resolve_data_dir
from agent_system.environments.webshop.env import Shop, WebShopEnv
from agent_system.environments.webshop.expert import expert_action
from agent_system.environments.webshop.goals import build_goals, canonical_split, split_range
from agent_system.environments.webshop.prompts import WEBSHOP_TEMPLATES, project_actions
from agent_system.environments.webshop.task_types import detect_webshop_category

logger = logging.getLogger(__name__)

# Loading the catalog and indexing it takes seconds (minutes for the full files); every family
# and environment of one process shares the result.
_SHOPS: Dict[Tuple[Any, ...], Tuple[Shop, List[Dict[str, Any]]]] = {}
_LOCK = threading.Lock()


def load_shop(data_dir: str, use_small: bool, human_goals: bool, seed: int) -> Tuple[Shop, List[Dict[str, Any]]]:
    key = (data_dir, use_small, human_goals, seed)
    with _LOCK:
        if key not in _SHOPS:
            catalog = load_catalog(data_dir, use_small=use_small, human_goals=human_goals, seed=seed)
            goals = build_goals(catalog.products, catalog.prices, human=human_goals, seed=seed)
            logger.info("WebShop: %d goals over %d products", len(goals), len(catalog.products))
            _SHOPS[key] = (Shop(catalog), goals)
        return _SHOPS[key]


def webshop_task_type(instruction: str) -> str:
    return detect_webshop_category(instruction)


@register_env_family("webshop", "Webshop", "WebShop")  # Webshop: the original recipes' name
class WebShopFamily(EnvFamily):
    templates = WEBSHOP_TEMPLATES
    skill_domain = "webshop"

    def __init__(self, env_cfg: Any):
        super().__init__(env_cfg)
        self.cfg = env_cfg.webshop
        self._shop: Optional[Shop] = None
        self._goals: List[Dict[str, Any]] = []

    @classmethod
    def check_config(cls, env_cfg: Any) -> None:
        w = env_cfg.webshop
        if w.reward_type not in ("success", "score"):
            raise ValueError(f"env.webshop.reward_type={w.reward_type!r} is not supported; use 'success' or 'score'")
        for key in ("num_test_goals", "num_valid_goals"):
            if getattr(w, key) < 0:
                raise ValueError(f"env.webshop.{key}={getattr(w, key)} must be >= 0")

    def __getstate__(self):
        # Environment workers rebuild the shop from the files (shared per process) instead of
        # receiving a pickled catalog and index.
        state = dict(self.__dict__)
        state.update(_shop=None, _goals=[])
        return state

    def project_actions(self, model_outputs, admissible=None):
        return project_actions(model_outputs, admissible, validity=self.env_cfg.action_validity)

    def _ensure(self) -> None:
        if self._shop is None:
            data_dir = resolve_data_dir(self.cfg.data_path)
            self._shop, self._goals = load_shop(data_dir, self.cfg.use_small, self.cfg.human_goals,
                                                int(self.env_cfg.seed))

    @property
    def shop(self) -> Shop:
        self._ensure()
        return self._shop

    def tasks(self, split: str) -> List[TaskSpec]:
        self._ensure()
        idx = split_range(split, len(self._goals), self.cfg.num_test_goals, self.cfg.num_valid_goals)
        canonical = canonical_split(split)
        if len(idx) == 0:
            raise ValueError(
                f"WebShop split {canonical!r} is empty: there are {len(self._goals)} goals and "
                f"env.webshop.num_test_goals={self.cfg.num_test_goals}, num_valid_goals={self.cfg.num_valid_goals} "
                "take the first ones; lower those sizes (num_valid_goals=0 validates on the test goals and trains on "
                "every goal after them)"
            )
        return [
            TaskSpec(task_id=f"webshop/{i}", split=canonical,
                     task_type=webshop_task_type(self._goals[i]["instruction_text"]),
                     payload=dict(self._goals[i], goal_index=i))
            for i in idx
        ]

    def make_env(self) -> TextEnv:
        return WebShopEnv(self.shop, reward_type=self.cfg.reward_type)

    def expert_action(self, task: TaskSpec, observation: str, info: Dict[str, Any]) -> Optional[str]:
        return expert_action(task.payload, info, self.shop.catalog.by_asin)

    def extra_metrics(self, trajectories: Sequence[Any]) -> Dict[str, float]:
        return webshop_metrics(trajectories)


def webshop_metrics(trajectories: Sequence[Any]) -> Dict[str, float]:
    """The paper's WebShop columns besides success: the mean purchase score over all episodes
    (0 for an episode that bought nothing), as SkillRL logs it from each episode's last info."""
    if not trajectories:
        return {}
    scores = [float(t.meta.get("task_score") or 0.0) for t in trajectories]
    return {"webshop_task_score": sum(scores) / len(scores)}
