"""Rebuild RL-time prompts for trajectories that were recorded without them (e.g. converted ETO data).

The trajectory's task is looked up in the environment family's split (by ``task_id``: exact, or a
game path that ends with it), played from reset in a one-environment
:class:`~agent_system.environments.env_manager.EnvironmentManager` with the configured skill
memory, and at each step the manager's own prompt is taken before the demonstrated action is
executed. Replay stops at the first step where the demonstration no longer fits the live
environment (its action is not admissible there, or the episode has already ended); the
remaining steps get no prompt and SFT skips them. Nothing here guesses a prompt.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from agent_system.environments.base import Observation, TaskSpec
from agent_system.environments.projection import project_actions
from agent_system.trajectory import Trajectory

logger = logging.getLogger("skillrl.sft")


def _norm(task_id: str) -> str:
    t = str(task_id).replace("\\", "/").strip("/")
    for suffix in ("/game.tw-pddl", "/traj_data.json"):
        if t.endswith(suffix):
            t = t[: -len(suffix)]
    return t


class PromptReplayer:
    """One live environment + manager; ``prompts(traj)`` returns one prompt (or None) per step."""

    def __init__(self, env_cfg: Any, memory: Any = None, family: Any = None):
        from agent_system.environments.base import make_env_family
        from agent_system.environments.env_manager import EnvironmentManager
        from agent_system.environments.env_pool import LocalEnvPool

        self.family = family if family is not None else make_env_family(env_cfg)
        self.manager = EnvironmentManager(env_cfg, self.family, LocalEnvPool(self.family, 1, env_cfg), memory)
        self._index: Dict[str, Dict[str, TaskSpec]] = {}
        self.stats = {"replayed": 0, "no_task": 0, "diverged": 0}

    def _tasks(self, split: str) -> Dict[str, TaskSpec]:
        if split not in self._index:
            self._index[split] = {_norm(t.task_id): t for t in self.family.tasks(split)}
        return self._index[split]

    def find_task(self, traj: Trajectory) -> Optional[TaskSpec]:
        want = _norm(traj.task_id or traj.meta.get("game_file", ""))
        if not want:
            return None
        for split in [traj.split] if traj.split else ["train", "valid_seen", "valid_unseen"]:
            try:
                tasks = self._tasks(split)
            except ValueError:  # the family has no such split
                continue
            if want in tasks:
                return tasks[want]
            hits = [t for k, t in tasks.items() if k.endswith("/" + want) or want.endswith("/" + k)]
            if len(hits) == 1:
                return hits[0]
        return None

    def prompts(self, traj: Trajectory) -> List[Optional[str]]:
        from skillrl.sft.dataset import demonstration_target

        out: List[Optional[str]] = [None] * len(traj.steps)
        task = self.find_task(traj)
        if task is None:
            self.stats["no_task"] += 1
            logger.warning("replay: no task of env %s matches task_id %r; its %d steps get no prompt",
                           self.family.name, traj.task_id, len(traj.steps))
            return out
        ob: Optional[Observation] = self.manager.reset([task])[0]
        for k, step in enumerate(traj.steps):
            adm = ob.admissible_actions if ob is not None else []
            target = demonstration_target(step)
            action = self.manager.project([target], [adm or None])[0][0]
            if adm and action not in adm:  # older ALFWorld wording: the strict rules map "put X in Y" to "move X to Y"
                canonical = project_actions([target], [adm], validity="strict")[0][0]
                if canonical in adm:
                    action, target = canonical, self.family.wrap_expert_action(canonical, "replayed")
            if ob is None or ob.done or ob.error or (adm and action not in adm):
                self.stats["diverged"] += 1
                logger.warning("replay of %s diverged at step %d (action %r not possible there)",
                               traj.task_id, k, step.action)
                return out
            out[k] = ob.prompt
            ob = self.manager.step([target])[0][0]  # None: the episode ended
        self.stats["replayed"] += 1
        return out

    @classmethod
    def from_config(cls, env_cfg: Any, tokenizer: Any = None) -> "PromptReplayer":
        """With the memory the RL prompts use (none when neither memory is on); ``tokenizer`` counts
        the raw-trajectory memory's budget as training does."""
        from agent_system.environments.base import make_env_family
        from skillrl.trainer.components import build_memory

        family = make_env_family(env_cfg)
        return cls(env_cfg, build_memory(env_cfg, family, tokenizer), family)

    def close(self) -> None:
        self.manager.close()


def prompt_source_for(mode: str, replayer_factory) -> Any:
    """``stored`` | ``replay`` | ``auto`` -> a function (trajectory) -> prompts per step.

    ``replayer_factory`` builds the :class:`PromptReplayer` on first need (it starts an
    environment and loads the skill bank, which ``stored`` never needs).
    """
    from skillrl.sft.dataset import stored_prompts

    holder: Dict[str, PromptReplayer] = {}

    def replayed(traj: Trajectory) -> List[Optional[str]]:
        if "r" not in holder:
            holder["r"] = replayer_factory()
        return holder["r"].prompts(traj)

    def auto(traj: Trajectory) -> List[Optional[str]]:
        return stored_prompts(traj) if all(s.prompt for s in traj.steps) else replayed(traj)

    fn = {"stored": stored_prompts, "replay": replayed, "auto": auto}.get(mode)
    if fn is None:
        raise ValueError(f"sft.prompt_source={mode!r} is not supported; use auto, stored or replay")
    fn.replayer = holder  # type: ignore[attr-defined]  # lets the caller read stats and close it
    return fn
