"""Builders for what the GRPO trainer composes: tokenizer, skill memories, environments, workers.

Kept apart from :mod:`skillrl.trainer.ray_trainer` so the driver reads as the training loop only.
Ray is imported by the worker and pool classes these call, never at module import.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Optional, Tuple

logger = logging.getLogger("skillrl.trainer")

VALID_SPLIT = "valid"  # every family maps this to its validation split (ALFWorld: env.alfworld.eval_dataset)


def load_tokenizer(model_cfg: Any, model_path: str):
    from transformers import AutoTokenizer

    path = model_cfg.tokenizer_path or model_path
    if not os.path.exists(path):
        raise FileNotFoundError(f"actor_rollout_ref.model.tokenizer_path / model.path {path!r} does not exist")
    tok = AutoTokenizer.from_pretrained(path, trust_remote_code=model_cfg.trust_remote_code)
    if getattr(tok, "chat_template", None) is None:
        raise ValueError(f"the tokenizer at {path} has no chat template; the rollout loop needs one "
                         "(use an instruct/chat model or add chat_template to tokenizer_config.json)")
    return tok


def pad_token_id(tokenizer: Any) -> int:
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return int(pad if pad is not None else 0)


def build_memory(env_cfg: Any, family: Any, tokenizer: Any = None) -> Optional[Any]:
    """The memory whose text fills the prompt's skills block: stored raw trajectories when
    ``env.use_retrieval_memory`` is on (the skill bank is then not loaded; tokens counted with
    ``tokenizer`` when given), else the skill bank of ``env.skills_only_memory`` in the family's
    skill domain, else None."""
    if env_cfg.use_retrieval_memory:
        from agent_system.memory import RawTrajectoryMemory

        if env_cfg.use_skills_only_memory:
            logger.info("env.use_retrieval_memory=true: stored trajectories replace the skill bank in the prompts "
                        "(env.use_skills_only_memory is ignored)")
        return RawTrajectoryMemory.from_config(env_cfg.retrieval_memory, tokenizer=tokenizer)
    if not env_cfg.use_skills_only_memory:
        return None
    from agent_system.memory import SkillsOnlyMemory

    return SkillsOnlyMemory.from_config(env_cfg.skills_only_memory, domain=family.skill_domain)


def build_memories(env_cfg: Any, family: Any, tokenizer: Any = None) -> Tuple[Optional[Any], Optional[Any]]:
    """(training memory, validation memory): two independent banks, or (None, None) without skills.

    Evolution writes into the training bank only, so validation is never shaped by skills that
    were distilled from validation failures. The raw-trajectory memory is read-only: one for both.
    """
    train = build_memory(env_cfg, family, tokenizer)
    return (None, None) if train is None else (train, train.copy())


def memory_tokenizer(cfg: Any) -> Optional[Any]:
    """The tokenizer of ``actor_rollout_ref.model`` when the raw-trajectory memory needs one for its
    token budget (evaluation and collection with a model policy count as training does), else None."""
    if not cfg.env.use_retrieval_memory:
        return None
    from skillrl.utils.tiny_model import resolve_model_path

    return load_tokenizer(cfg.actor_rollout_ref.model, resolve_model_path(cfg.actor_rollout_ref.model.path))


def skill_memory(memory: Any) -> Optional[Any]:
    """``memory`` when it is a skill bank (evolved, counted and checkpointed), else None."""
    return memory if hasattr(memory, "bank") else None


def load_bank_into(memory: Any, path: str) -> None:
    """Replace a memory's bank with the one saved at ``path`` (checkpoint resume)."""
    from skillrl.skills.bank import load_bank

    bank = load_bank(path)
    bank.path = memory.bank.path
    memory.bank = bank


def build_evolver(env_cfg: Any, train_memory: Any, run_dir: str):
    """The skill evolver when dynamic updates are on (it needs a skill memory)."""
    mem_cfg = env_cfg.skills_only_memory
    if train_memory is None or not mem_cfg.enable_dynamic_update:
        return None
    from skillrl.skills.evolution import BANK_FILE, LOG_FILE, SkillEvolver

    skills_dir = os.path.join(run_dir, "skills")
    evolver = SkillEvolver(mem_cfg, train_memory, bank_path=os.path.join(skills_dir, BANK_FILE),
                           log_path=os.path.join(skills_dir, LOG_FILE))
    if not evolver.enabled:
        logger.info("skill evolution is on but no teacher is configured: the bank stays as loaded "
                    "(set env.skills_only_memory.teacher.model and .base_url or an API key to evolve it)")
    return evolver


def build_env_manager(env_cfg: Any, family: Any, num_envs: int, memory: Any):
    from agent_system.environments.env_manager import EnvironmentManager
    from agent_system.environments.env_pool import EnvPool

    return EnvironmentManager(env_cfg, family, EnvPool(family, num_envs, env_cfg), memory)


def max_model_len(config: Any) -> int:
    r = config.actor_rollout_ref.rollout
    prompt = r.prompt_length or config.data.max_prompt_length
    response = r.response_length or config.data.max_response_length
    return int(r.max_model_len or prompt + response)


def response_length(config: Any) -> int:
    return int(config.actor_rollout_ref.rollout.response_length or config.data.max_response_length)


def fill_derived(config: Any, total_steps: int) -> None:
    """Values the schema leaves to the trainer: rollout lengths from ``data.*``, the LR schedule's length."""
    r = config.actor_rollout_ref.rollout
    r.prompt_length = r.prompt_length or config.data.max_prompt_length
    r.response_length = response_length(config)
    config.actor_rollout_ref.actor.optim.total_training_steps = max(1, int(total_steps))


def build_workers(config: Any, model_path: str, need_ref: bool):
    """(actor worker group, rollout engines, critic group or None). The reference lives in the
    actor's processes; the critic, when the estimator needs values, beside them (empty
    ``critic.model.path``: the policy's model)."""
    from skillrl.workers.worker_group import CriticWorkerGroup, RayWorkerGroup, create_rollout_workers

    arr, critic = config.actor_rollout_ref, None
    role = "actor_ref" if need_ref else "actor"
    with_critic = uses_critic(config.algorithm)
    actor = RayWorkerGroup(arr, config.trainer, role=role, model_path=model_path, name="actor",
                           with_critic=with_critic)
    if with_critic:
        critic = CriticWorkerGroup(config.critic, actor, model_path)
    rollout = create_rollout_workers(arr, model_path, actor, max_model_len(config))
    return actor, rollout, critic


def uses_critic(algo_cfg: Any) -> bool:
    """Whether ``algorithm.adv_estimator`` reads a value model's ``values`` (registered ``needs_critic``)."""
    from skillrl.registry import ADVANTAGE_ESTIMATORS

    return bool(getattr(ADVANTAGE_ESTIMATORS.get(algo_cfg.adv_estimator), "needs_critic", False))
