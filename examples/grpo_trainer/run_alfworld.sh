#!/usr/bin/env bash
# GRPO on ALFWorld WITHOUT skills (the paper's GRPO baseline): same hyper-parameters as
# run_alfworld_skills.sh, no skill bank in the prompt and no evolution. Needs GPUs.
#   export MODEL_PATH=/path/to/Qwen2.5-7B-Instruct   ALFWORLD_DATA=/path/to/alfworld  (json_2.1.1/...)
#   bash examples/grpo_trainer/run_alfworld.sh [extra hydra overrides]
set -euo pipefail
set -x
ENGINE=${ENGINE:-vllm}
export MODEL_PATH=${MODEL_PATH:-Qwen/Qwen2.5-7B-Instruct}
: "${ALFWORLD_DATA:?set ALFWORLD_DATA to the directory holding json_2.1.1/ (bash scripts/alfworld_data.sh prints one)}"
export ALFWORLD_DATA
N_GPUS=${N_GPUS:-4}

num_cpus_per_env_worker=0.1
train_data_size=16
val_data_size=128
group_size=8

"${PYTHON:-python3}" -m skillrl.main_ppo \
    algorithm.adv_estimator=grpo \
    data.train_batch_size=$train_data_size \
    data.val_batch_size=$val_data_size \
    data.max_prompt_length=4096 \
    data.max_response_length=512 \
    data.filter_overlong_prompts=True \
    data.truncation='error' \
    data.return_raw_chat=True \
    actor_rollout_ref.model.path=$MODEL_PATH \
    actor_rollout_ref.model.trust_remote_code=True \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.model.use_remove_padding=True \
    actor_rollout_ref.actor.ppo_mini_batch_size=256 \
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
    actor_rollout_ref.actor.use_kl_loss=True \
    actor_rollout_ref.actor.kl_loss_coef=0.01 \
    actor_rollout_ref.actor.kl_loss_type=low_var_kl \
    actor_rollout_ref.model.enable_gradient_checkpointing=True \
    actor_rollout_ref.actor.fsdp_config.param_offload=False \
    actor_rollout_ref.actor.fsdp_config.optimizer_offload=False \
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.rollout.tensor_model_parallel_size=2 \
    actor_rollout_ref.rollout.name=$ENGINE \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.5 \
    actor_rollout_ref.rollout.enable_chunked_prefill=True \
    actor_rollout_ref.rollout.enforce_eager=False \
    actor_rollout_ref.rollout.free_cache_engine=False \
    actor_rollout_ref.rollout.max_num_batched_tokens=8192 \
    actor_rollout_ref.rollout.max_num_seqs=512 \
    actor_rollout_ref.rollout.val_kwargs.temperature=0.4 \
    actor_rollout_ref.rollout.val_kwargs.do_sample=True \
    actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.ref.fsdp_config.param_offload=True \
    actor_rollout_ref.actor.use_invalid_action_penalty=True \
    actor_rollout_ref.actor.invalid_action_penalty_coef=0.1 \
    algorithm.use_kl_in_reward=False \
    env.env_name=alfworld/AlfredTWEnv \
    env.seed=0 \
    env.max_steps=50 \
    env.rollout.n=$group_size \
    env.resources_per_worker.num_cpus=$num_cpus_per_env_worker \
    +env.use_skills_only_memory=False \
    trainer.critic_warmup=0 \
    trainer.logger=['console','jsonl','tensorboard'] \
    trainer.project_name='skillrl_alfworld' \
    trainer.experiment_name='grpo_qwen2.5_7b_no_skills' \
    trainer.n_gpus_per_node=$N_GPUS \
    trainer.nnodes=1 \
    trainer.save_freq=10 \
    trainer.test_freq=5 \
    trainer.total_training_steps=150 \
    trainer.val_before_train=True "$@"
