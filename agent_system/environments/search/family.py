"""The ``search`` environment family: QA questions as tasks, a retrieval client per environment.

As SkillRL: training questions from ``env.search.datasets`` (NQ and HotpotQA, Search-R1's training
file), validation and test over the whole test file of the seven datasets
(``env.search.val_datasets``; ``env.search.val_max_tasks`` caps a training run's validation), and
success per dataset (``success_rate/<data_source>``) as the family's extra metrics.
"""
from __future__ import annotations

import os
from typing import Any, Dict, List, Optional, Sequence

from agent_system.environments.base import EnvFamily, TaskSpec, TextEnv, register_env_family
from agent_system.environments.search.client import RetrievalClient
from agent_system.environments.search.datasets import canonical_split, load_datasets
from agent_system.environments.search.env import SearchEnv
from agent_system.environments.search.prompts import SEARCH_TEMPLATES, project_actions
from agent_system.environments.search.task_types import detect_search_type


def search_task_type(question: str) -> str:
    return detect_search_type(question)


def resolve_data_dir(data_path: Optional[str]) -> str:
    path = data_path or os.environ.get("SEARCH_DATA")
    if not path:
        raise FileNotFoundError(
            "no QA data directory: env.search.data_path and $SEARCH_DATA are unset; point one at a folder "
            "holding <dataset>/<split>.jsonl files (see agent_system/environments/search/README.md)"
        )
    return path


@register_env_family("search", "Search")
class SearchFamily(EnvFamily):
    templates = SEARCH_TEMPLATES  # free-text queries and answers: no admissible actions
    history_shows_result = True  # a query with the passages it returned, as the original's history
    skill_domain = "search"

    def __init__(self, env_cfg: Any):
        super().__init__(env_cfg)
        self.cfg = env_cfg.search
        self._tasks: Dict[str, List[TaskSpec]] = {}

    @classmethod
    def check_config(cls, env_cfg: Any) -> None:
        s = env_cfg.search
        for key, value, zero in (("topk", s.topk, False), ("timeout_s", s.timeout_s, False),
                                 ("max_retries", s.max_retries, True)):
            if value < 0 or (value == 0 and not zero):
                raise ValueError(f"env.search.{key}={value!r} must be {'>= 0' if zero else '> 0'}")
        if not s.retrieval_url.startswith(("http://", "https://")):
            raise ValueError(f"env.search.retrieval_url={s.retrieval_url!r} must be an http(s) URL, "
                             "e.g. http://127.0.0.1:8000/retrieve")
        if s.val_max_tasks == 0 or s.val_max_tasks < -1:
            raise ValueError(f"env.search.val_max_tasks={s.val_max_tasks}: use -1 (every validation question) "
                             "or a positive cap")

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_tasks"] = {}  # workers never need the question lists
        return state

    def project_actions(self, model_outputs, admissible=None):
        return project_actions(model_outputs, admissible, validity=self.env_cfg.action_validity)

    def wrap_expert_action(self, action: str, reason: str) -> str:
        """The expert's action as model text: Search-R1's tags carry the action, no <action> tag."""
        return f"<think>{reason}</think>\n{action}"

    def expert_thought(self, task: TaskSpec, action: str, info: Dict[str, Any]) -> str:
        return "Following the known solution."  # the action's own tags already say what it does

    def tasks(self, split: str) -> List[TaskSpec]:
        split = canonical_split(split)
        if split not in self._tasks:
            names = self.cfg.datasets if split == "train" else self.cfg.val_datasets
            examples = load_datasets(resolve_data_dir(self.cfg.data_path), names, split)
            self._tasks[split] = [
                TaskSpec(
                    task_id=f"{ex.dataset}/{split}/{ex.id}", split=split, task_type=search_task_type(ex.question),
                    payload={"question": ex.question, "golden_answers": ex.golden_answers, "dataset": ex.dataset,
                             "source_type": ex.source_type},
                )
                for ex in examples
            ]
        return self._tasks[split]

    def validation_size(self, val_batch_size: int) -> int:
        # SkillRL validates on every question of its test file; data.val_batch_size was only the
        # size of each validation batch there.
        return int(self.cfg.val_max_tasks)

    def extra_metrics(self, trajectories: Sequence[Any]) -> Dict[str, float]:
        return success_by_data_source(trajectories)

    def make_env(self) -> TextEnv:
        client = RetrievalClient(self.cfg.search_url or self.cfg.retrieval_url, topk=self.cfg.topk, timeout_s=self.cfg.timeout_s,
                                 max_retries=self.cfg.max_retries)
        return SearchEnv(client)

    def expert_action(self, task: TaskSpec, observation: str, info: Dict[str, Any]) -> Optional[str]:
        """An oracle: it searches the question once (so retrieval is exercised), then answers gold."""
        if info.get("num_searches", 0) == 0:
            return f"<search>{task.payload['question']}</search>"
        return f"<answer>{task.payload['golden_answers'][0]}</answer>"


def success_by_data_source(trajectories: Sequence[Any]) -> Dict[str, float]:
    """``success_rate/<data_source>``: the share of won episodes per QA dataset (SkillRL logs them as
    ``<data_source>_success_rate`` from each episode's last info)."""
    wins: Dict[str, List[float]] = {}
    for t in trajectories:
        wins.setdefault(str(t.meta.get("data_source") or "unknown"), []).append(float(t.won))
    return {f"success_rate/{name}": sum(w) / len(w) for name, w in sorted(wins.items())}
