#!/usr/bin/env bash
# GRPO + skill bank on the embedded household environment, on CPU (no GPU, no download): the
# recipe style of run_alfworld_skills.sh at a size that finishes in minutes on two cores.
#   bash examples/grpo_trainer/run_household_skills_cpu.sh [extra hydra overrides]
#   MODEL_PATH=/path/to/hf_model bash ...       # default: the built-in tiny model
#   TEACHER_MODEL=... TEACHER_BASE_URL=http://127.0.0.1:8000/v1 bash ...   # evolve the bank
set -euo pipefail
set -x
export MODEL_PATH=${MODEL_PATH:-builtin:tiny}
TEACHER_MODEL=${TEACHER_MODEL:-}
TEACHER_BASE_URL=${TEACHER_BASE_URL:-null}

train_data_size=2
val_data_size=4
group_size=2

"${PYTHON:-python3}" -m skillrl.main_ppo \
    algorithm.adv_estimator=grpo \
    data.train_batch_size=$train_data_size \
    data.val_batch_size=$val_data_size \
    data.max_prompt_length=2048 \
    data.max_response_length=48 \
    data.truncation='left' \
    actor_rollout_ref.model.path=$MODEL_PATH \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.ppo_mini_batch_size=16 \
    actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=4 \
    actor_rollout_ref.actor.use_kl_loss=True \
    actor_rollout_ref.actor.kl_loss_coef=0.01 \
    actor_rollout_ref.actor.kl_loss_type=low_var_kl \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.rollout.val_kwargs.temperature=0.4 \
    actor_rollout_ref.rollout.val_kwargs.do_sample=True \
    actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=8 \
    actor_rollout_ref.actor.use_invalid_action_penalty=True \
    actor_rollout_ref.actor.invalid_action_penalty_coef=0.1 \
    algorithm.use_kl_in_reward=False \
    env.env_name=household \
    env.seed=0 \
    env.max_steps=6 \
    env.rollout.n=$group_size \
    +env.use_skills_only_memory=True \
    +env.skills_only_memory.skills_json_path=memory_data/household/claude_style_skills.json \
    +env.skills_only_memory.top_k=6 \
    +env.skills_only_memory.enable_dynamic_update=True \
    +env.skills_only_memory.update_threshold=0.4 \
    +env.skills_only_memory.max_new_skills=3 \
    "+env.skills_only_memory.teacher.model=$TEACHER_MODEL" \
    "+env.skills_only_memory.teacher.base_url=$TEACHER_BASE_URL" \
    trainer.device=cpu \
    trainer.logger=['console','jsonl','tensorboard'] \
    trainer.project_name='skillrl_household' \
    trainer.experiment_name='grpo_tiny_skills_cpu' \
    trainer.n_gpus_per_node=1 \
    trainer.nnodes=1 \
    trainer.save_freq=2 \
    trainer.test_freq=2 \
    trainer.total_training_steps=4 \
    trainer.val_before_train=True "$@"
