"""``python -m skillrl.main_eval``: evaluate a policy on a split and write the result as JSON.

Same ``env.*`` keys as training (configs/eval.yaml, schema ``EvalConfig``)::

    python -m skillrl.main_eval env.env_name=household eval.policy=expert eval.output=eval.json
    python -m skillrl.main_eval env.env_name=alfworld/AlfredTWEnv eval.split=valid_unseen \\
        eval.policy=model actor_rollout_ref.model.path=/path/to/model eval.backend=vllm
    python -m skillrl.main_eval eval.policy=openai eval.openai.model=gpt-4o-mini   # prompting baseline

Policies (``eval.policy``): ``expert`` (the family's expert, wrapped in the ``<think>/<action>``
format and sent through the same manager and projection), ``model`` (a local model with the
``hf`` or ``vllm`` engine) and ``openai`` (any OpenAI-compatible endpoint, ``eval.openai``).
Skills are retrieved into the prompts when ``env.use_skills_only_memory=true`` (not for the
expert, which ignores prompts). Generation and turn limits are training's keys with training's
defaults (``data.max_response_length``, ``env.max_steps``, ``rollout.val_kwargs`` sampling and
``rollout.seed``): a model evaluated here plays the episodes its validation during training
played (the same per-episode seeds, through the same episode driver). Progress is shown per
episode (a bar on a terminal, a line per episode otherwise). The JSON has ``success_rate``,
``success_rate_by_task_type`` (every type the family lists in ``EnvFamily.task_types``, e.g.
ALFWorld's six for household/ALFWorld; null for a type with no episode), ``family_metrics`` (the
family's own columns of the paper's tables, ``EnvFamily.extra_metrics``: WebShop's
``webshop_task_score``, search's ``success_rate/<data_source>``), ``num_episodes``,
``mean_steps``, ``env_steps_per_s`` (environment steps per second of time spent in the pool's
step calls, all environments of a batch in parallel) and ``env_reset_s`` (seconds per batch
reset), plus counts, the invalid- and inadmissible-action and retry rates (``action_rates`` in
``agent_system/trajectory.py``) and wall time. Each task of the split is played once.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any, Dict, List, Tuple

logger = logging.getLogger("skillrl.eval")

def select_tasks(family: Any, split: str, num_episodes: int) -> List[Any]:
    """The split's tasks; a cap (``eval.num_episodes``) takes them round-robin over task types so a
    short evaluation still covers every type (ALFWorld lists its games grouped by type)."""
    tasks = family.tasks(split)
    if not tasks:
        raise ValueError(f"env.env_name={family.env_cfg.env_name}: split {split!r} has no tasks; check the data "
                         "path or choose another eval.split")
    if num_episodes is None or num_episodes < 0 or num_episodes >= len(tasks):
        return tasks
    by_type: Dict[str, List[Any]] = {}
    for t in tasks:
        by_type.setdefault(t.task_type, []).append(t)
    picked: List[Any] = []
    queues = list(by_type.values())
    while len(picked) < num_episodes:
        for q in queues:
            if q and len(picked) < num_episodes:
                picked.append(q.pop(0))
    return picked


def build_policy(cfg: Any, family: Any):
    """The policy ``eval.policy`` names (validation sampling and seeding for a model)."""
    from agent_system.multi_turn_rollout.policies import ChatPolicy, EnginePolicy, ExpertPolicy

    if cfg.eval.policy == "expert":
        return ExpertPolicy(family)
    if cfg.eval.policy == "openai":
        return ChatPolicy.from_config(cfg.eval.openai, max_workers=cfg.eval.batch_size)
    from skillrl.workers.distributed import resolve_device

    return EnginePolicy.from_config(cfg, cfg.eval.backend, resolve_device(cfg.trainer.device))


def play(cfg: Any, family: Any, tasks: List[Any], memory: Any, use_ray: bool) -> Tuple[List[Any], Dict[str, float]]:
    """Play every task once, ``eval.batch_size`` at a time; returns (trajectories, environment timing)."""
    from agent_system.multi_turn_rollout.progress import EpisodeProgress
    from agent_system.multi_turn_rollout.rollout_loop import DriverCache, play_tasks

    policy = build_policy(cfg, family)
    drivers = DriverCache(cfg.env, family, memory, use_ray)
    progress = EpisodeProgress(len(tasks), f"eval {family.name}/{cfg.eval.split} ({cfg.eval.policy})",
                               enabled=cfg.eval.progress_bar)
    try:
        trajs = play_tasks(drivers, tasks, policy, cfg.eval.batch_size, on_done=progress.update)
        timing = {key: float(sum(getattr(m, attr) for m in drivers.managers))
                  for key, attr in (("reset_s", "reset_time_s"), ("step_s", "step_time_s"), ("steps", "env_steps"),
                                    ("resets", "env_resets"))}
    finally:
        drivers.close()
        progress.close()
    return trajs, timing


def evaluate(cfg: Any) -> Dict[str, Any]:
    """Run the evaluation described by a validated EvalConfig; returns what is written to JSON."""
    from agent_system.environments.base import make_env_family
    from agent_system.multi_turn_rollout.rollout_loop import wants_ray_pool
    from agent_system.trajectory import summarize, write_jsonl
    from skillrl.trainer.components import build_memory, memory_tokenizer

    t_start = time.perf_counter()
    family = make_env_family(cfg.env)
    tasks = select_tasks(family, cfg.eval.split, cfg.eval.num_episodes)
    use_ray = wants_ray_pool(cfg.eval.pool, family)
    if use_ray:
        from skillrl.utils.ray_init import env_worker_cpus, init_ray

        init_ray(cfg.ray_init, env_worker_cpus(cfg.env, cfg.eval.batch_size), cfg.actor_rollout_ref.model.external_lib)
    # the expert reads no prompt; an endpoint's tokenizer is unknown (raw memory then counts characters // 4)
    tokenizer = memory_tokenizer(cfg) if cfg.eval.policy == "model" else None
    memory = None if cfg.eval.policy == "expert" else build_memory(cfg.env, family, tokenizer)
    trajs, timing = play(cfg, family, tasks, memory, use_ray)
    result = summarize(trajs, family.task_types)
    result["family_metrics"] = family.extra_metrics(trajs)
    result.update(
        env_steps_per_s=timing["steps"] / timing["step_s"] if timing["step_s"] > 0 else 0.0,
        env_steps=int(timing["steps"]), env_step_time_s=timing["step_s"],
        env_reset_s=timing["reset_s"] / timing["resets"] if timing["resets"] else 0.0,
        wall_s=time.perf_counter() - t_start, policy=cfg.eval.policy,
        split=cfg.eval.split, env_name=cfg.env.env_name, skills=memory is not None,
        pool="ray" if use_ray else "local",
    )
    if cfg.eval.policy == "model":
        result["model"] = cfg.actor_rollout_ref.model.path
    if cfg.eval.trajectories:
        write_jsonl(cfg.eval.trajectories, trajs)
    _write_json(cfg.eval.output, result)
    return result


def _write_json(path: str, result: Dict[str, Any]) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, path)


def _print_summary(result: Dict[str, Any], path: str) -> None:
    lines = [f"success_rate {result['success_rate']:.3f} over {result['num_episodes']} episodes "
             f"(mean {result['mean_steps']:.1f} steps, {result['env_steps_per_s']:.0f} env steps/s; "
             f"invalid actions {result['invalid_action_rate']:.1%}, inadmissible {result['inadmissible_action_rate']:.1%}, "
             f"retries {result['retry_rate']:.1%})"]
    for t, r in result["success_rate_by_task_type"].items():
        lines.append(f"  {t:34s} {'-' if r is None else f'{r:.3f}'}")
    for name, value in result.get("family_metrics", {}).items():
        lines.append(f"  {name:34s} {value:.3f}")
    lines.append(f"written to {os.path.abspath(path)}")
    print("\n".join(lines), flush=True)


def main() -> None:
    from skillrl.config import CONFIG_DIR, EvalConfig, hydra_argv, to_dataclass

    hydra_argv()
    if not any(a.startswith("hydra.run.dir=") for a in sys.argv[1:]):
        # Hydra's own log goes under the run directory, as for training, not a dated outputs/ tree.
        sys.argv.append("hydra.run.dir=${trainer.default_local_dir}/eval_hydra")
    import hydra

    @hydra.main(config_path=CONFIG_DIR, config_name="eval", version_base=None)
    def _entry(cfg) -> None:
        config = to_dataclass(cfg, EvalConfig)
        result = evaluate(config)
        _print_summary(result, config.eval.output)

    _entry()


if __name__ == "__main__":
    main()
