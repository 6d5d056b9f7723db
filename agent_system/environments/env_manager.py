"""The environment manager: what the multi-turn rollout loop and evaluation talk to.

It sits between text policies and a pool of environments. ``reset(tasks)`` starts one episode
per environment and, when a skill memory is attached, retrieves the skills for each task
description right then (or, with the raw-trajectory memory, the similar stored episodes), so **the skills are in the prompt from the first step on** and stay the
same for the whole episode. ``step(outputs, active)`` projects each model output to an action
(``family.project_actions``), steps the active environments in parallel and renders the next
prompts from the family's templates (``family.templates``, or files under
``env.prompt_template_dir``) with the last ``env.history_length`` observation/action pairs and,
when the family has them, the admissible actions. Each pair holds the observation the action was
taken in, as the original's ALFWorld and WebShop history; a family with ``history_shows_result``
(search) pairs the action with its result instead, as the original's search history. A prompt
longer than ``env.max_prompt_chars`` falls back to the no-history template, as the original's
WebShop manager does (here for every family).

Departure from verl-agent: the skills are retrieved from the task description at reset (the
original retrieved them when building the first prompt from the parsed observation); an
episode also ends after ``env.max_steps`` steps here even if the environment would go on.
"""
from __future__ import annotations

import inspect
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from agent_system.environments.base import EnvFamily, Observation, StepResult, TaskSpec, Transition
from agent_system.environments.prompts import build_prompt
from agent_system.environments.prompts.files import load_template_dir
from agent_system.trajectory import is_admissible, note_rejection

logger = logging.getLogger(__name__)


def _accepts_task_type(fn: Any) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return "task_type" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@dataclass
class _Episode:
    task_spec: TaskSpec
    task: str = ""
    task_type: str = ""
    skills_text: str = ""
    observation: str = ""
    admissible: List[str] = field(default_factory=list)
    history: List[Tuple[int, str, str]] = field(default_factory=list)  # (step number, observation, action)
    steps: int = 0
    done: bool = False
    won: bool = False
    info: Dict[str, Any] = field(default_factory=dict)  # the environment's latest info
    error: Optional[str] = None
    # actions missing from the admissible list since the last admissible one (the world is unchanged since)
    rejected: Set[str] = field(default_factory=set)


class EnvironmentManager:
    """Prompts, skills and action projection for a pool of environments of one family."""

    def __init__(self, env_cfg: Any, family: EnvFamily, pool: Any, memory: Any = None):
        self.env_cfg = env_cfg
        self.family = family
        self.pool = pool
        self.memory = memory  # swappable (training vs validation memories)
        self.templates = load_template_dir(env_cfg.prompt_template_dir, family.templates)
        self.max_prompt_chars = int(env_cfg.max_prompt_chars)
        self.project = family.project_actions
        self.max_steps = int(env_cfg.max_steps)
        self.history_length = int(env_cfg.history_length)
        self.inadmissible_is_invalid = bool(env_cfg.inadmissible_is_invalid)
        # what the configured memory retrieves per task, as the original read it from that memory's group
        mem_cfg = env_cfg.retrieval_memory if env_cfg.use_retrieval_memory else env_cfg.skills_only_memory
        self.top_k = int(mem_cfg.top_k)
        self._episodes: List[_Episode] = []
        self.reset_time_s = 0.0  # seconds spent in pool.reset
        self.step_time_s = 0.0  # seconds spent in pool.step
        self.env_steps = 0  # environment steps taken
        self.env_resets = 0

    @property
    def env_time_s(self) -> float:
        return self.reset_time_s + self.step_time_s

    @property
    def num_envs(self) -> int:
        return int(self.pool.num_envs)

    # --------------------------------------------------------------------------------- reset
    def reset(self, tasks: Sequence[TaskSpec]) -> List[Observation]:
        if len(tasks) != self.num_envs:
            raise ValueError(f"EnvironmentManager.reset: {len(tasks)} tasks for {self.num_envs} environments; "
                             "repeat each task env.rollout.n times so there is one task per environment")
        t0 = time.perf_counter()
        results = self.pool.reset(list(tasks))
        self.reset_time_s += time.perf_counter() - t0
        self.env_resets += 1
        skills_cache: Dict[Tuple[str, str], str] = {}
        if hasattr(self.memory, "prefetch"):  # embedding mode: the batch's queries in one model call
            self.memory.prefetch([str(info.get("task_description") or "") for _, info in results])
        self._episodes = []
        for task, (obs, info) in zip(tasks, results):
            ep = _Episode(task_spec=task, observation=obs, info=dict(info))
            ep.task = str(info.get("task_description") or "")
            ep.task_type = str(info.get("task_type") or task.task_type)
            ep.admissible = list(info.get("admissible_actions") or [])
            ep.error = info.get("error")
            ep.done = ep.error is not None
            if not ep.done:
                key = (ep.task, ep.task_type)
                if key not in skills_cache:
                    skills_cache[key] = self._skills_for(ep.task, ep.task_type)
                ep.skills_text = skills_cache[key]
            self._episodes.append(ep)
        return [self._observation(i) for i in range(self.num_envs)]

    def _skills_for(self, task: str, task_type: str) -> str:
        """The prompt's skills block: the memory's record (``agent_system.memory.RetrievedSkills`` for
        SkillsOnlyMemory; a memory of one's own may use its own type) goes back to the same memory's
        ``format_for_prompt``."""
        if self.memory is None:
            return ""
        if _accepts_task_type(self.memory.retrieve):
            retrieved = self.memory.retrieve(task, self.top_k, task_type=task_type or None)
        else:  # the original SkillsOnlyMemory interface: retrieve(task_description, top_k)
            retrieved = self.memory.retrieve(task, self.top_k)
        return str(self.memory.format_for_prompt(retrieved) or "")

    # ---------------------------------------------------------------------------------- step
    def step(self, model_outputs: Sequence[Optional[str]], active: Optional[np.ndarray] = None
             ) -> Tuple[List[Optional[Observation]], np.ndarray, np.ndarray, List[Transition]]:
        n = self.num_envs
        if len(self._episodes) != n:
            raise RuntimeError("EnvironmentManager.step called before reset")
        if len(model_outputs) != n:
            raise ValueError(f"EnvironmentManager.step: {len(model_outputs)} outputs for {n} environments")
        mask = np.ones(n, dtype=bool) if active is None else np.asarray(active, dtype=bool).copy()
        mask &= np.array([not ep.done for ep in self._episodes], dtype=bool)
        idx = [int(i) for i in np.nonzero(mask)[0]]
        texts = ["" if model_outputs[i] is None else str(model_outputs[i]) for i in idx]
        admissible = [self._episodes[i].admissible or None for i in idx]
        actions, valids = self.project(texts, admissible) if idx else ([], [])
        if self.inadmissible_is_invalid:
            valids = [bool(v) and (adm is None or is_admissible(a, adm)) for a, v, adm in zip(actions, valids, admissible)]
        to_send: List[Optional[str]] = [None] * n
        for i, a in zip(idx, actions):
            to_send[i] = a
        t0 = time.perf_counter()
        results = self.pool.step(to_send) if idx else [None] * n
        self.step_time_s += time.perf_counter() - t0
        self.env_steps += len(idx)

        obs: List[Optional[Observation]] = [None] * n
        rewards, dones = np.zeros(n, dtype=np.float32), np.ones(n, dtype=bool)
        infos: List[Transition] = [self._inactive_info(i) for i in range(n)]
        for i, action, valid, adm in zip(idx, actions, valids, admissible):
            note_rejection(self._episodes[i].rejected, action, adm)
            res = results[i]
            if res is None:  # a pool must answer every action it was given
                res = StepResult("", 0.0, True, {"won": False, "admissible_actions": [],
                                                 "error": "environment pool returned no result"})
            rewards[i], dones[i], infos[i] = self._apply(i, action, bool(valid), res)
            obs[i] = self._observation(i)
        return obs, rewards, dones, infos

    def _apply(self, i: int, action: str, valid: bool, res: StepResult) -> Tuple[float, bool, Transition]:
        ep = self._episodes[i]
        ep.steps += 1
        # the observation shown beside the action: the one it was taken in, or (search) its result
        shown = res.observation if self.family.history_shows_result else ep.observation
        ep.history.append((ep.steps, shown, action))
        ep.observation = res.observation
        ep.admissible = list(res.info.get("admissible_actions") or [])
        ep.info = dict(res.info)
        ep.won = bool(res.info.get("won", False))
        ep.error = res.info.get("error")
        ep.done = bool(res.done) or ep.won or ep.error is not None or ep.steps >= self.max_steps
        # ended by the turn limit: the manager's (env.max_steps) or the environment's own
        truncated = bool(res.info.get("truncated")) or (ep.done and not ep.won and not res.done and ep.error is None)
        return float(res.reward), ep.done, Transition(action=action, is_action_valid=valid, won=ep.won, step=ep.steps,
                                                      truncated=truncated, error=ep.error, info=dict(res.info))

    def _inactive_info(self, i: int) -> Transition:
        ep = self._episodes[i]
        return Transition(action=None, is_action_valid=True, won=ep.won, step=ep.steps, active=False, error=ep.error)

    # ------------------------------------------------------------------------------- prompts
    def _observation(self, i: int) -> Observation:
        ep = self._episodes[i]
        history = ep.history[-self.history_length:] if self.history_length > 0 else []
        prompt = build_prompt(self.templates, task=ep.task, observation=ep.observation, skills_text=ep.skills_text,
                              admissible=ep.admissible, history=history, step_count=ep.steps,
                              max_chars=self.max_prompt_chars)
        return Observation(prompt=prompt, anchor=ep.observation, task=ep.task, task_type=ep.task_type, env_index=i,
                           task_id=ep.task_spec.task_id, step=ep.steps, done=ep.done,
                           admissible_actions=list(ep.admissible), skills_text=ep.skills_text, error=ep.error,
                           spec=ep.task_spec, info=dict(ep.info, step=ep.steps))

    # ------------------------------------------------------------------------- introspection
    def task_spec(self, i: int) -> TaskSpec:
        return self._episodes[i].task_spec

    def last_info(self, i: int) -> Dict[str, Any]:
        """Environment ``i``'s latest info (plus ``step``), e.g. for an expert policy."""
        ep = self._episodes[i]
        return dict(ep.info, step=ep.steps)

    def done_mask(self) -> np.ndarray:
        return np.array([ep.done for ep in self._episodes], dtype=bool)

    def close(self) -> None:
        self.pool.close()
