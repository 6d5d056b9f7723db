"""``python -m skillrl.collect``: play a policy on a split and write its trajectories as JSONL.

Policies (``collect.policy``) are those of evaluation: ``expert`` (the environment family's
solver), ``model`` (a local model through the ``hf`` or ``vllm`` engine,
``actor_rollout_ref.model.path``) and ``openai`` (any OpenAI-compatible endpoint,
``collect.openai.*``). Episodes go through the same
:class:`~agent_system.environments.env_manager.EnvironmentManager` as RL, so every step stores
the exact prompt the policy saw (skills included): cold-start SFT trains on those prompts, and
skill generation reads the same files. With ``collect.teacher_reasoning=true`` the teacher
(``env.skills_only_memory.teacher``) rewrites the ``<think>`` part of each kept step.

Each batch of ``collect.batch_size`` episodes is appended to ``collect.output`` as soon as it is
played, so an interrupted run keeps what it finished. A summary (success overall and per task
type) is printed as one JSON line and written next to the output as ``<output>.summary.json``.

Algorithm 1 of the paper starts from collected trajectories; the original code collected them
outside the repository. Here collection is part of the framework.
"""
from __future__ import annotations

import json
import logging
import os
from typing import Any, Dict, List, Sequence, Tuple

from agent_system.trajectory import Trajectory, write_jsonl

logger = logging.getLogger("skillrl.collect")


def episode_tasks(family: Any, split: str, num_episodes: int) -> List[Any]:
    """The split's tasks in order; ``num_episodes`` > 0 takes that many, cycling if needed."""
    tasks = list(family.tasks(split))
    if not tasks:
        raise ValueError(f"env {family.name!r} has no tasks in split {split!r}; check collect.split and the env settings")
    if num_episodes is None or num_episodes < 0:
        return tasks
    return [tasks[i % len(tasks)] for i in range(int(num_episodes))]


class NoisyExpert:
    """The expert, except that each step plays a noise action with probability ``p``.

    A noise action is a random admissible action.
    ``noise_steps[(task_id, play)]`` lists the (0-based) steps that were noise, so they can be left
    out of SFT while the expert's answers from the states they led to are kept.
    """

    _SKIP = ("help", "look", "inventory")

    def __init__(self, family: Any, p: float, rng: Any):
        from agent_system.multi_turn_rollout.policies import ExpertPolicy

        self.expert, self.family, self.p, self.rng = ExpertPolicy(family), family, p, rng
        self.noise_steps: Dict[Tuple[str, int], List[int]] = {}

    def act(self, observations: Sequence[Any], keys: Sequence[Any]) -> List[Any]:
        from agent_system.multi_turn_rollout.policies import Action

        outs = [a.text for a in self.expert.act(observations, keys)]
        for j, (ob, key) in enumerate(zip(observations, keys)):
            episode = (key.task_id, key.play)
            action = self._noise_action(ob.admissible_actions)
            if action is not None:
                outs[j] = self.family.wrap_expert_action(action, f"Trying something else: {action}.")
                self.noise_steps.setdefault(episode, []).append(ob.step)
        return [Action(t) for t in outs]

    def _noise_action(self, admissible: List[str]) -> Any:
        """None for an expert step; otherwise the noise action (random draws in a fixed order)."""
        choices = [a for a in admissible if a not in self._SKIP]
        if not choices or self.rng.random() >= self.p:
            return None
        return choices[int(self.rng.integers(len(choices)))]


def build_policy(cfg: Any, family: Any) -> Any:
    """The policy ``collect.policy`` names (a noisy expert when ``collect.expert_noise`` > 0)."""
    from agent_system.multi_turn_rollout.policies import ChatPolicy, EnginePolicy, ExpertPolicy

    c = cfg.collect
    if c.policy == "expert" and c.expert_noise > 0:
        import numpy as np

        return NoisyExpert(family, c.expert_noise, np.random.default_rng([cfg.env.seed, 4099]))
    if c.policy == "expert":
        return ExpertPolicy(family)
    if c.policy == "openai":
        return ChatPolicy.from_config(c.openai, max_workers=c.batch_size)
    from skillrl.workers.distributed import resolve_device

    return EnginePolicy.from_config(cfg, c.backend, resolve_device(cfg.trainer.device))


def _keep(trajs: Sequence[Trajectory], only_successful: bool) -> List[Trajectory]:
    return [t for t in trajs if t.won or not only_successful]


class BatchWriter:
    """Appends each played batch to ``collect.output`` at once (an interrupted run keeps what it
    finished), tagged with the policy and a noisy expert's noise steps, reasoning rewritten by the
    teacher when one is given."""

    def __init__(self, c: Any, policy: Any, teacher: Any = None):
        self.c, self.policy, self.teacher, self.written = c, policy, teacher, 0
        if not c.append:
            write_jsonl(c.output, [])  # start a fresh file (creates its folder)

    def __call__(self, trajs: List[Trajectory]) -> None:
        for t in trajs:
            t.meta["policy"] = self.c.policy
            if isinstance(self.policy, NoisyExpert):
                t.meta["noise_steps"] = self.policy.noise_steps.get((t.task_id, int(t.meta["play"])), [])
        kept = _keep(trajs, self.c.only_successful)
        if self.teacher is not None:
            from skillrl.sft.reasoning import add_teacher_reasoning

            add_teacher_reasoning(kept, self.teacher)
        self.written += write_jsonl(self.c.output, kept, append=True)


def collect(cfg: Any) -> Dict[str, Any]:
    """Play, write and summarise; returns the summary dict (also printed and saved)."""
    from agent_system.environments.base import make_env_family
    from agent_system.multi_turn_rollout.progress import EpisodeProgress
    from agent_system.multi_turn_rollout.rollout_loop import DriverCache, play_tasks, wants_ray_pool
    from agent_system.trajectory import summarize
    from skillrl.trainer.components import build_memory, memory_tokenizer

    c = cfg.collect
    family = make_env_family(cfg.env)
    tasks = episode_tasks(family, c.split, c.num_episodes)
    use_ray = wants_ray_pool(c.pool, family)
    if use_ray:
        from skillrl.utils.ray_init import env_worker_cpus, init_ray

        init_ray(cfg.ray_init, env_worker_cpus(cfg.env, c.batch_size), cfg.actor_rollout_ref.model.external_lib)
    tokenizer = memory_tokenizer(cfg) if c.policy == "model" else None
    drivers = DriverCache(cfg.env, family, build_memory(cfg.env, family, tokenizer), use_ray=use_ray)
    policy = build_policy(cfg, family)
    writer = BatchWriter(c, policy, _teacher(cfg) if c.teacher_reasoning else None)
    progress = EpisodeProgress(len(tasks), f"collect {c.policy} on {family.name}/{c.split}")
    try:
        played = play_tasks(drivers, tasks, policy, c.batch_size, on_done=progress.update, on_batch=writer)
    finally:
        progress.close()
        drivers.close()
    summary = {**summarize(played, sorted({t.task_type for t in tasks})), "policy": c.policy, "split": c.split,
               "env_name": cfg.env.env_name, "output": os.path.abspath(c.output), "written": writer.written}
    with open(c.output + ".summary.json", "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
    print(json.dumps(summary), flush=True)
    return summary


def _teacher(cfg: Any) -> Any:
    from skillrl.skills.teacher import TeacherClient

    return TeacherClient(cfg.env.skills_only_memory.teacher)


def main() -> None:
    from skillrl.config import CONFIG_DIR, hydra_argv, to_dataclass
    from skillrl.config.schema import CollectConfig

    hydra_argv()
    import hydra

    @hydra.main(config_path=CONFIG_DIR, config_name="collect", version_base=None)
    def _entry(dcfg) -> None:
        collect(to_dataclass(dcfg, CollectConfig))

    _entry()


def load_collect_config(overrides: Sequence[str] = (), config_dir: str = None) -> Any:
    """A validated CollectConfig from configs/collect.yaml plus overrides (outside @hydra.main)."""
    from skillrl.config import load_config
    from skillrl.config.schema import CollectConfig

    return load_config("collect", list(overrides), config_dir=config_dir, schema=CollectConfig)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    main()
