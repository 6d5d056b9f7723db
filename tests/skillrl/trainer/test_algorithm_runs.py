"""Short training runs of the algorithms the original recipes name, on CPU (real Ray, real FSDP,
the hf engine, the tiny model, the household environment): each trains for two steps and logs
finite metrics of its own. They run ``main_ppo.run_ppo`` on the session's Ray; the command line
itself (a subprocess, Ray started and reaped by it) is tested end to end in test_main_ppo_e2e.py.
"""
from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import pytest

from skillrl.config import load_config

pytestmark = pytest.mark.slow

# One task x two members, two turns of 16 tokens: the smallest run that has a group to compare.
TINY_RUN = [
    "actor_rollout_ref.rollout.name=hf", "trainer.device=cpu", "trainer.val_before_train=False",
    "trainer.export_hf_model=False", "trainer.progress_bar=False", "trainer.logger=[jsonl]",
    "data.train_batch_size=1", "env.rollout.n=2", "env.max_steps=2", "data.max_response_length=16",
    "data.val_batch_size=1", "trainer.test_freq=-1", "env.skills_only_memory.enable_dynamic_update=False",
    "actor_rollout_ref.actor.ppo_mini_batch_size=8",
]


def _main_ppo(run_dir: Path, model: str, *args: str) -> list:
    """Run to the end; the metrics rows of the training steps."""
    from skillrl.main_ppo import run_ppo

    run_ppo(load_config("ppo_trainer", [*TINY_RUN, *args, f"actor_rollout_ref.model.path={model}",
                                        f"trainer.default_local_dir={run_dir}"]))
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if "timing/step" in r]


def _finite(row: dict, keys) -> None:
    for k in keys:
        assert k in row, f"{k} missing from step {row.get('training/global_step')}: {sorted(row)}"
        assert math.isfinite(row[k]), f"{k}={row[k]}"


CRITIC_KEYS = ["critic/vf_loss", "critic/vf_clipfrac", "critic/grad_norm", "critic/vpred_mean",
               "critic/values/mean", "critic/returns/mean", "critic/vf_explained_var"]


@pytest.mark.slow(seconds=42)
def test_gae_with_a_critic_warms_up_checkpoints_and_resumes(tmp_path, tiny_model_dir, ray_local):
    """Step 1 updates only the critic (critic_warmup=2) and is checkpointed; a second run (new
    workers) resumes the critic and the actor from it and runs step 2, which updates both."""
    run_dir = tmp_path / "run"
    gae = ["algorithm.adv_estimator=gae", "algorithm.lam=0.95", "trainer.critic_warmup=2",
           "critic.optim.lr=1e-4", "critic.ppo_mini_batch_size=8", "critic.ppo_micro_batch_size_per_gpu=2",
           "critic.model.enable_gradient_checkpointing=False", "trainer.save_freq=1"]
    first = _main_ppo(run_dir, tiny_model_dir, *gae, "trainer.total_training_steps=1")
    assert len(first) == 1
    _finite(first[0], CRITIC_KEYS)
    assert "actor/pg_loss" not in first[0], "the actor updated during the critic's warm-up"
    assert (run_dir / "global_step_1" / "critic").is_dir()

    rows = _main_ppo(run_dir, tiny_model_dir, *gae, "trainer.total_training_steps=2")
    assert [r["training/global_step"] for r in rows] == [1, 2]
    _finite(rows[1], CRITIC_KEYS + ["actor/pg_loss", "actor/grad_norm"])
    assert (run_dir / "global_step_2" / "critic").is_dir()


def test_gspo_loss_with_gigpo_similarity_advantages_two_steps(tmp_path, tiny_model_dir, ray_local):
    """One run for two independent choices (each paid a run of its own before): GSPO's
    sequence-level ratio, one row per micro-batch so the rows' weighting is exercised, and GiGPO's
    step groups joined by anchor-text similarity (verl-agent's enable_similarity)."""
    rows = _main_ppo(tmp_path / "run", tiny_model_dir, "actor_rollout_ref.actor.policy_loss.loss_mode=gspo",
                     "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1",
                     "algorithm.adv_estimator=gigpo", "algorithm.gigpo.enable_similarity=True",
                     "algorithm.gigpo.similarity_thresh=0.9", "trainer.total_training_steps=2")
    assert [r["training/global_step"] for r in rows] == [1, 2]
    for row in rows:
        _finite(row, ["actor/pg_loss", "actor/grad_norm", "actor/ppo_kl", "actor/entropy", "critic/advantages_mean"])


def test_dapo_dynamic_sampling_two_steps(tmp_path, tiny_model_dir, ray_local, caplog):
    """The tiny random model never wins, so with metric=won every group is constant: each step's
    first generation batch is filtered out, the second (the bound) is kept unfiltered and trained on."""
    caplog.set_level(logging.WARNING, logger="skillrl.algorithms")
    rows = _main_ppo(tmp_path / "run", tiny_model_dir, "algorithm.filter_groups.enable=True",
                     "algorithm.filter_groups.metric=won", "algorithm.filter_groups.max_num_gen_batches=2",
                     "trainer.total_training_steps=2")
    assert [r["training/global_step"] for r in rows] == [1, 2]
    bound = [r for r in caplog.records if "after 2 generation batches, fewer than the 1 a training batch needs" in r.getMessage()]
    assert len(bound) == 2, caplog.text[-3000:]
    for row in rows:
        assert (row["train/num_gen_batches"], row["train/groups_played"], row["train/groups_filtered"],
                row["train/groups_kept"], row["train/gen_batch_bound_hit"]) == (2, 2, 1, 1, 1)
        assert row["episode/num_episodes"] == 4  # two generation batches of one task x two members
        _finite(row, ["actor/pg_loss", "actor/grad_norm", "critic/advantages_mean"])
