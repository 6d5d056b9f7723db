"""Value checks that types alone cannot express. Each error names the key and what to change."""
from __future__ import annotations

import os
from typing import Any, Iterable

from skillrl.config.schema import CollectConfig, EvalConfig, PPOConfig, SFTConfig
from skillrl.registry import (ADVANTAGE_ESTIMATORS, ENV_FAMILIES, FILTER_METRICS, KL_CONTROLLERS, KL_ESTIMATORS,
                              LOSS_AGGREGATIONS, POLICY_LOSSES, ROLLOUT_ENGINES)



def _one_of(key: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{key}={value!r} is not supported; use one of {', '.join(map(repr, allowed))}")


def _positive(key: str, value: float, allow_zero: bool = False) -> None:
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{key}={value!r} must be {bound}")


def _validate_common(cfg: Any) -> None:
    d, m = cfg.data, cfg.actor_rollout_ref
    _one_of("data.truncation", d.truncation, ("left", "right", "error"))
    _positive("data.max_prompt_length", d.max_prompt_length)
    _positive("data.max_response_length", d.max_response_length)
    _one_of("actor_rollout_ref.rollout.name", m.rollout.name, ROLLOUT_ENGINES.names())
    _one_of("actor_rollout_ref.rollout.weight_sync_mode", m.rollout.weight_sync_mode, ("auto", "tensors", "shm"))
    _positive("actor_rollout_ref.rollout.cpu_kv_cache_gib", m.rollout.cpu_kv_cache_gib)
    _one_of("trainer.device", cfg.trainer.device, ("auto", "cpu", "cuda"))
    _positive("trainer.n_gpus_per_node", cfg.trainer.n_gpus_per_node)
    _positive("trainer.nnodes", cfg.trainer.nnodes)
    if not m.model.path:
        raise ValueError("actor_rollout_ref.model.path is empty; give a Hugging Face model directory or builtin:tiny")
    _validate_env(cfg.env)


def _validate_env(env: Any) -> None:
    family = ENV_FAMILIES.get(env.env_name)  # the registry (aliases included) is the list of names
    _positive("env.max_steps", env.max_steps)
    _positive("env.history_length", env.history_length, allow_zero=True)
    _positive("env.rollout.n", env.rollout.n)
    mem = env.skills_only_memory
    _one_of("env.skills_only_memory.retrieval_mode", mem.retrieval_mode, ("template", "embedding"))
    if not 0.0 <= mem.update_threshold <= 1.0:
        raise ValueError(f"env.skills_only_memory.update_threshold={mem.update_threshold} must be in [0, 1]")
    if not -1.0 <= mem.similarity_threshold <= 1.0:
        raise ValueError(
            f"env.skills_only_memory.similarity_threshold={mem.similarity_threshold} is a cosine similarity; "
            "use a value in [-1, 1]"
        )
    _positive("env.skills_only_memory.max_new_skills", mem.max_new_skills, allow_zero=True)
    _positive("env.skills_only_memory.top_k", mem.top_k, allow_zero=True)
    if mem.task_specific_top_k is not None:
        _positive("env.skills_only_memory.task_specific_top_k", mem.task_specific_top_k, allow_zero=True)
    _positive("env.skills_only_memory.max_mistakes", mem.max_mistakes, allow_zero=True)
    _positive("env.skills_only_memory.max_failures_per_type", mem.max_failures_per_type)
    _positive("env.skills_only_memory.failure_token_budget", mem.failure_token_budget)
    _positive("env.skills_only_memory.teacher.timeout_s", mem.teacher.timeout_s)
    _positive("env.skills_only_memory.teacher.max_retries", mem.teacher.max_retries, allow_zero=True)
    _one_of("env.skills_only_memory.teacher.api_type", mem.teacher.api_type, ("openai", "azure"))
    _validate_retrieval_memory(env)
    _positive("env.step_timeout_s", env.step_timeout_s)
    _one_of("env.action_validity", env.action_validity, ("original", "strict"))
    _positive("env.max_prompt_chars", env.max_prompt_chars, allow_zero=True)
    family.check_prompt_templates(env)  # env.prompt_template_dir: a bad file fails here, naming it
    family.check_config(env)  # the family's own group (env.household.*, env.webshop.*, ...)


def _validate_retrieval_memory(env: Any) -> None:
    """``env.retrieval_memory``: checked only when ``env.use_retrieval_memory`` is on, since the original
    recipes pass its keys (with a path on their authors' machines) while leaving it off."""
    if not env.use_retrieval_memory:
        return
    r = env.retrieval_memory
    if not r.json_path:
        raise ValueError("env.use_retrieval_memory=true needs env.retrieval_memory.json_path: a JSON list of "
                         "memories in the original's format (e.g. generated_memories_alfworld_total.json)")
    if not os.path.isfile(r.json_path) or not os.access(r.json_path, os.R_OK):
        raise ValueError(f"env.retrieval_memory.json_path={r.json_path!r} is not a readable file; point it at "
                         "a generated_memories_*.json file or set env.use_retrieval_memory=false")
    _positive("env.retrieval_memory.top_k", r.top_k)
    _positive("env.retrieval_memory.max_tokens", r.max_tokens)
    if not -1.0 <= r.similarity_threshold <= 1.0:
        raise ValueError(f"env.retrieval_memory.similarity_threshold={r.similarity_threshold} is a cosine "
                         "similarity; use a value in [-1, 1]")
    if r.device not in ("cpu", "cuda") and not str(r.device).startswith("cuda:"):
        raise ValueError(f"env.retrieval_memory.device={r.device!r} is not supported; use 'cuda', 'cuda:N' or 'cpu'")


def _validate_ppo(cfg: PPOConfig) -> None:
    actor, alg = cfg.actor_rollout_ref.actor, cfg.algorithm
    _one_of("algorithm.adv_estimator", alg.adv_estimator, ADVANTAGE_ESTIMATORS.names())
    _one_of("algorithm.gigpo.mode", alg.gigpo.mode, ("mean_norm", "mean_std_norm"))
    _one_of("algorithm.kl_ctrl.type", alg.kl_ctrl.type, KL_CONTROLLERS.names())
    _one_of("actor_rollout_ref.actor.policy_loss.loss_mode", actor.policy_loss.loss_mode, POLICY_LOSSES.names())
    _one_of("actor_rollout_ref.actor.loss_agg_mode", actor.loss_agg_mode, LOSS_AGGREGATIONS.names())
    _one_of("actor_rollout_ref.actor.kl_loss_type", actor.kl_loss_type, KL_ESTIMATORS.names())
    _one_of("algorithm.kl_penalty", alg.kl_penalty, KL_ESTIMATORS.names())
    _positive("data.train_batch_size", cfg.data.train_batch_size)
    _positive("actor_rollout_ref.actor.ppo_mini_batch_size", actor.ppo_mini_batch_size)
    _positive("actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu", actor.ppo_micro_batch_size_per_gpu)
    _positive("actor_rollout_ref.actor.ppo_epochs", actor.ppo_epochs)
    _positive("actor_rollout_ref.actor.optim.lr", actor.optim.lr, allow_zero=True)
    if not 0.0 <= alg.gamma <= 1.0:
        raise ValueError(f"algorithm.gamma={alg.gamma} must be in [0, 1]")
    if actor.clip_ratio_c <= 1.0:
        raise ValueError(f"actor_rollout_ref.actor.clip_ratio_c={actor.clip_ratio_c} must be > 1 (dual-clip bound)")
    if getattr(ADVANTAGE_ESTIMATORS.get(alg.adv_estimator), "compares_group_members", False) and cfg.env.rollout.n < 2:
        raise ValueError(
            f"algorithm.adv_estimator={alg.adv_estimator} compares members of a group; set env.rollout.n >= 2 "
            f"(got {cfg.env.rollout.n})"
        )
    if getattr(ADVANTAGE_ESTIMATORS.get(alg.adv_estimator), "needs_critic", False):
        _validate_critic(cfg.critic, alg)
    _validate_filter_groups(alg, cfg.env.rollout.n)
    rm = cfg.trainer.resume_mode
    if rm not in ("auto", "disable") and not rm:
        raise ValueError("trainer.resume_mode must be auto, disable or a checkpoint path")


def _validate_critic(critic: Any, alg: Any) -> None:
    """Only when the estimator runs the critic: other runs never read ``critic.*``."""
    _one_of("critic.strategy", critic.strategy, ("fsdp", "fsdp2"))
    _one_of("critic.loss_agg_mode", critic.loss_agg_mode, LOSS_AGGREGATIONS.names())
    _positive("critic.ppo_mini_batch_size", critic.ppo_mini_batch_size)
    _positive("critic.ppo_micro_batch_size_per_gpu", critic.ppo_micro_batch_size_per_gpu)
    _positive("critic.ppo_epochs", critic.ppo_epochs)
    _positive("critic.optim.lr", critic.optim.lr, allow_zero=True)
    if critic.cliprange_value < 0:
        raise ValueError(f"critic.cliprange_value={critic.cliprange_value} must be >= 0")
    if not 0.0 <= alg.lam <= 1.0:
        raise ValueError(f"algorithm.lam={alg.lam} must be in [0, 1]")


def _validate_filter_groups(alg: Any, group_size: int) -> None:
    fg = alg.filter_groups
    _one_of("algorithm.filter_groups.metric", fg.metric, FILTER_METRICS.names())
    _positive("algorithm.filter_groups.max_num_gen_batches", fg.max_num_gen_batches, allow_zero=True)
    if not fg.enable:
        return
    if group_size < 2:
        raise ValueError(f"algorithm.filter_groups.enable=True compares members of a group, but env.rollout.n="
                         f"{group_size}: every group of one is kept; set env.rollout.n >= 2 or disable filter_groups")
    if fg.metric == "seq_final_reward" and alg.use_kl_in_reward:
        raise ValueError("algorithm.filter_groups.metric=seq_final_reward with algorithm.use_kl_in_reward=True would "
                         "need log-probs of every generation batch before filtering; use metric=seq_reward, or "
                         "actor_rollout_ref.actor.use_kl_loss instead of the in-reward KL")


def _validate_eval(cfg: EvalConfig) -> None:
    _one_of("eval.policy", cfg.eval.policy, ("expert", "model", "openai"))
    _one_of("eval.backend", cfg.eval.backend, ROLLOUT_ENGINES.names())
    _one_of("eval.split", cfg.eval.split, ("train", "valid_seen", "valid_unseen", "valid", "test"))
    _one_of("eval.pool", cfg.eval.pool, ("auto", "local", "ray"))
    _positive("eval.batch_size", cfg.eval.batch_size)
    if cfg.eval.num_episodes == 0 or cfg.eval.num_episodes < -1:
        raise ValueError(f"eval.num_episodes={cfg.eval.num_episodes} must be > 0, or -1 for the whole split")
    if cfg.eval.policy == "openai" and not cfg.eval.openai.model:
        raise ValueError("eval.policy=openai needs eval.openai.model (and eval.openai.base_url for a local server)")


def _validate_collect(cfg: CollectConfig) -> None:
    c = cfg.collect
    _one_of("collect.policy", c.policy, ("expert", "model", "openai"))
    _one_of("collect.backend", c.backend, ROLLOUT_ENGINES.names())
    _one_of("collect.split", c.split, ("train", "valid_seen", "valid_unseen", "valid", "test"))
    _positive("collect.batch_size", c.batch_size)
    _one_of("collect.pool", c.pool, ("auto", "local", "ray"))
    if not 0.0 <= c.expert_noise < 1.0:
        raise ValueError(f"collect.expert_noise={c.expert_noise} must be in [0, 1)")
    if c.expert_noise > 0 and c.policy != "expert":
        raise ValueError(f"collect.expert_noise={c.expert_noise} only applies to collect.policy=expert "
                         f"(got {c.policy!r}); set it to 0")
    if c.num_episodes == 0 or c.num_episodes < -1:
        raise ValueError(f"collect.num_episodes={c.num_episodes} must be > 0, or -1 for the whole split")
    if not c.output:
        raise ValueError("collect.output is empty; give the trajectories JSONL path to write")
    if c.policy == "openai" and not c.openai.model:
        raise ValueError("collect.policy=openai needs collect.openai.model (and collect.openai.base_url for a local server)")
    if c.teacher_reasoning and not cfg.env.skills_only_memory.teacher.model:
        raise ValueError("collect.teacher_reasoning=true needs a teacher: set env.skills_only_memory.teacher.model "
                         "(and .base_url for a local server)")


def _validate_sft(cfg: SFTConfig) -> None:
    s = cfg.sft
    _positive("sft.micro_batch_size_per_gpu", s.micro_batch_size_per_gpu)
    _positive("sft.train_batch_size", s.train_batch_size)
    _positive("sft.lr", s.lr)
    _positive("sft.max_length", s.max_length)
    _one_of("sft.warmup_style", s.warmup_style, ("constant", "cosine"))
    _one_of("sft.prompt_source", s.prompt_source, ("auto", "stored", "replay"))
    _positive("sft.epochs", s.epochs)
    if s.prompt_loss_weight < 0:
        raise ValueError(f"sft.prompt_loss_weight={s.prompt_loss_weight} must be >= 0 (0: assistant tokens only)")
    if s.total_training_steps is not None and s.total_training_steps <= 0:
        raise ValueError(f"sft.total_training_steps={s.total_training_steps} must be > 0 (or null: sft.epochs passes)")
    if not 0.0 <= s.lr_warmup_steps_ratio < 1.0:
        raise ValueError(f"sft.lr_warmup_steps_ratio={s.lr_warmup_steps_ratio} must be in [0, 1)")
    if s.train_batch_size < s.micro_batch_size_per_gpu:
        raise ValueError(f"sft.train_batch_size={s.train_batch_size} is smaller than sft.micro_batch_size_per_gpu="
                         f"{s.micro_batch_size_per_gpu}; raise the batch or lower the micro-batch")
    if s.in_process and cfg.trainer.n_gpus_per_node * cfg.trainer.nnodes != 1:
        raise ValueError("sft.in_process=true runs a single rank; set trainer.n_gpus_per_node=1 and trainer.nnodes=1 "
                         "or sft.in_process=false")


def validate(cfg: Any) -> None:
    """Raise ``ValueError`` naming the key and the fix for any impossible value."""
    _validate_common(cfg)
    if isinstance(cfg, PPOConfig):
        _validate_ppo(cfg)
    elif isinstance(cfg, EvalConfig):
        _validate_eval(cfg)
    elif isinstance(cfg, SFTConfig):
        _validate_sft(cfg)
    elif isinstance(cfg, CollectConfig):
        _validate_collect(cfg)
