"""Trajectory records: what rollouts, validation, collection and skill evolution exchange.

One JSON object per line in a trajectories file (``python -m skillrl.collect`` writes them,
``python -m skillrl.main_sft`` and ``skill_generation/generate_memories.py`` read them).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Set


@dataclass
class Step:
    observation: str  # the environment's text before the action
    admissible_actions: List[str]
    model_output: str  # the raw text the policy produced (<think>..</think><action>..</action>)
    action: str  # the projected action that was executed
    reward: float
    valid: bool = True
    prompt: Optional[str] = None  # the full user prompt as the environment manager built it


@dataclass
class Trajectory:
    task: str  # the task description (goal)
    task_type: str
    task_id: str
    steps: List[Step] = field(default_factory=list)
    won: bool = False
    env_name: str = ""
    split: str = ""
    meta: Dict[str, Any] = field(default_factory=dict)

    @property
    def total_reward(self) -> float:
        return float(sum(s.reward for s in self.steps))

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any], where: str = "<dict>") -> "Trajectory":
        missing = [k for k in ("task", "task_type", "steps") if k not in d]
        if missing:
            raise ValueError(f"{where}: trajectory is missing field(s) {missing}")
        steps = []
        for i, s in enumerate(d["steps"]):
            try:
                steps.append(Step(**s))
            except TypeError as e:
                raise ValueError(f"{where}: steps[{i}] is malformed ({e})") from None
        return cls(
            task=d["task"], task_type=d["task_type"], task_id=str(d.get("task_id", "")), steps=steps,
            won=bool(d.get("won", False)), env_name=d.get("env_name", ""), split=d.get("split", ""),
            meta=dict(d.get("meta", {})),
        )


# Keys of a step's info that describe the episode's outcome beyond ``won`` and that its Trajectory
# keeps in ``meta``, for the families' extra metrics (EnvFamily.extra_metrics): WebShop's graded
# purchase score, the QA dataset a search question came from.
OUTCOME_KEYS = ("task_score", "data_source")


def keep_outcome(meta: Dict[str, Any], info: Dict[str, Any]) -> None:
    """Copy the outcome keys an environment's info carries into ``meta`` (the latest step wins)."""
    for key in OUTCOME_KEYS:
        if info.get(key) is not None:
            meta[key] = info[key]


_TEMPLATE = re.compile(r"^(\w+)\[<[^\[\]]*>\]$")  # an entry such as WebShop's search[<your query>]


def is_admissible(action: str, admissible: Sequence[str]) -> bool:
    """Whether the list offers ``action``: as one of its entries (case aside: projections lower-case
    actions, as the original's do), or through a template entry ``verb[<...>]`` filled with any
    non-empty argument (WebShop offers ``search[<your query>]``, not every query)."""
    wanted = action.strip().lower()
    for entry in admissible:
        if entry.lower() == wanted:
            return True
        m = _TEMPLATE.match(entry)
        if m and wanted.startswith(m.group(1).lower() + "[") and wanted.endswith("]") and len(wanted) > len(m.group(1)) + 2:
            return True
    return False


def note_rejection(rejected: Set[str], action: str, admissible: Optional[Sequence[str]]) -> None:
    """Keep ``rejected`` the set of actions refused since the last admissible one (the world unchanged
    since). Without an admissible list nothing is known, so the set is left as it is."""
    if not admissible:
        return
    if is_admissible(action, admissible):
        rejected.clear()
    else:
        rejected.add(action)


def action_rates(trajectories: Iterable[Trajectory]) -> Dict[str, float]:
    """How often the policy's actions were unusable, in two disjoint kinds, and how often it retried.

    ``invalid_action_rate``: steps whose output could not be parsed (or that the environment
    manager marked invalid), over all steps. ``inadmissible_action_rate``: valid steps whose action
    is not in the admissible list the environment offered, over the steps that had such a list;
    ALFWorld answers them "Nothing happens.", and a policy that sees one step of history tends to
    repeat them, so this is where a small model's lost turns show up. ``retry_rate``: steps, over
    those with a list, that take again an action already rejected with no admissible action since
    (the world unchanged, so it must fail again), valid or not.
    """
    n_steps = n_invalid = n_listed = n_inadmissible = n_retry = 0
    for t in trajectories:
        rejected: Set[str] = set()
        for s in t.steps:
            n_steps += 1
            n_invalid += not s.valid
            if s.admissible_actions:
                n_listed += 1
                n_inadmissible += bool(s.valid) and not is_admissible(s.action, s.admissible_actions)
                n_retry += s.action in rejected
                note_rejection(rejected, s.action, s.admissible_actions)
    return {"invalid_action_rate": n_invalid / n_steps if n_steps else 0.0,
            "inadmissible_action_rate": n_inadmissible / n_listed if n_listed else 0.0,
            "retry_rate": n_retry / n_listed if n_listed else 0.0}


def summarize(trajs: Iterable[Trajectory], task_types: Sequence[str] = ()) -> Dict[str, Any]:
    """Success overall and per task type (every name in ``task_types`` appears, None if unplayed;
    an environment family lists its types as ``EnvFamily.task_types``)."""
    import numpy as np

    trajs = list(trajs)
    by_type: Dict[str, List[bool]] = {t: [] for t in task_types}
    for tr in trajs:
        by_type.setdefault(tr.task_type, []).append(bool(tr.won))
    steps = [len(t.steps) for t in trajs]
    return {
        "success_rate": float(np.mean([t.won for t in trajs])) if trajs else 0.0,
        "success_rate_by_task_type": {k: (float(np.mean(v)) if v else None) for k, v in by_type.items()},
        "num_episodes_by_task_type": {k: len(v) for k, v in by_type.items()},
        "num_episodes": len(trajs),
        "mean_steps": float(np.mean(steps)) if steps else 0.0,
        "mean_reward": float(np.mean([t.total_reward for t in trajs])) if trajs else 0.0,
        **action_rates(trajs),
        "num_env_errors": sum(1 for t in trajs if t.meta.get("error")),
    }


def write_jsonl(path: str, trajectories: Iterable[Trajectory], append: bool = False) -> int:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    n = 0
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        for t in trajectories:
            f.write(json.dumps(t.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n


def read_jsonl(path: str) -> Iterator[Trajectory]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"trajectories file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            yield Trajectory.from_dict(d, where=f"{path}:{lineno}")
