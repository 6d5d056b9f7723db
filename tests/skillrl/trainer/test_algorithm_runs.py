"""Short ``python -m skillrl.main_ppo`` runs of the algorithms the original recipes name, on CPU
(real Ray, real FSDP, the hf engine, the tiny model, the household environment): each trains for
two steps and logs finite metrics of its own.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]

# One task x two members, two turns of 16 tokens: the smallest run that has a group to compare.
TINY_RUN = [
    "actor_rollout_ref.rollout.name=hf", "trainer.device=cpu", "trainer.val_before_train=False",
    "trainer.export_hf_model=False", "trainer.progress_bar=False", "trainer.logger=[jsonl]",
    "data.train_batch_size=1", "env.rollout.n=2", "env.max_steps=2", "data.max_response_length=16",
    "data.val_batch_size=1", "trainer.test_freq=-1", "env.skills_only_memory.enable_dynamic_update=False",
    "actor_rollout_ref.actor.ppo_mini_batch_size=8",
]


def _main_ppo(run_dir: Path, *args: str, output: list = None) -> list:
    """Run to the end; the metrics rows of the training steps (and its log appended to ``output``)."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAY_worker_niceness="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "skillrl.main_ppo", *TINY_RUN, *args,
                           f"trainer.default_local_dir={run_dir}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    if output is not None:
        output.append(proc.stdout + proc.stderr)
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if "timing/step" in r]


def _finite(row: dict, keys) -> None:
    for k in keys:
        assert k in row, f"{k} missing from step {row.get('training/global_step')}: {sorted(row)}"
        assert math.isfinite(row[k]), f"{k}={row[k]}"


CRITIC_KEYS = ["critic/vf_loss", "critic/vf_clipfrac", "critic/grad_norm", "critic/vpred_mean",
               "critic/values/mean", "critic/returns/mean", "critic/vf_explained_var"]


def test_gae_with_a_critic_warms_up_checkpoints_and_resumes(tmp_path):
    """Step 1 updates only the critic (critic_warmup=2) and is checkpointed; a second process
    resumes the critic and the actor from it and runs step 2, which updates both."""
    run_dir = tmp_path / "run"
    gae = ["algorithm.adv_estimator=gae", "algorithm.lam=0.95", "trainer.critic_warmup=2",
           "critic.optim.lr=1e-4", "critic.ppo_mini_batch_size=8", "critic.ppo_micro_batch_size_per_gpu=2",
           "critic.model.enable_gradient_checkpointing=False", "trainer.save_freq=1"]
    first = _main_ppo(run_dir, *gae, "trainer.total_training_steps=1")
    assert len(first) == 1
    _finite(first[0], CRITIC_KEYS)
    assert "actor/pg_loss" not in first[0], "the actor updated during the critic's warm-up"
    assert (run_dir / "global_step_1" / "critic").is_dir()

    rows = _main_ppo(run_dir, *gae, "trainer.total_training_steps=2")
    assert [r["training/global_step"] for r in rows] == [1, 2]
    _finite(rows[1], CRITIC_KEYS + ["actor/pg_loss", "actor/grad_norm"])
    assert (run_dir / "global_step_2" / "critic").is_dir()


def test_gspo_two_steps(tmp_path):
    """Sequence-level ratio; one row per micro-batch, so the rows' weighting is exercised."""
    rows = _main_ppo(tmp_path / "run", "actor_rollout_ref.actor.policy_loss.loss_mode=gspo",
                     "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=1", "trainer.total_training_steps=2")
    assert [r["training/global_step"] for r in rows] == [1, 2]
    for row in rows:
        _finite(row, ["actor/pg_loss", "actor/grad_norm", "actor/ppo_kl", "actor/entropy"])


def test_gigpo_with_similarity_two_steps(tmp_path):
    """Step groups joined by anchor-text similarity (verl-agent's enable_similarity)."""
    rows = _main_ppo(tmp_path / "run", "algorithm.adv_estimator=gigpo", "algorithm.gigpo.enable_similarity=True",
                     "algorithm.gigpo.similarity_thresh=0.9", "trainer.total_training_steps=2")
    assert [r["training/global_step"] for r in rows] == [1, 2]
    for row in rows:
        _finite(row, ["actor/pg_loss", "actor/grad_norm", "critic/advantages_mean"])


def test_dapo_dynamic_sampling_two_steps(tmp_path):
    """The tiny random model never wins, so with metric=won every group is constant: each step's
    first generation batch is filtered out, the second (the bound) is kept unfiltered and trained on."""
    log: list = []
    rows = _main_ppo(tmp_path / "run", "algorithm.filter_groups.enable=True", "algorithm.filter_groups.metric=won",
                     "algorithm.filter_groups.max_num_gen_batches=2", "trainer.total_training_steps=2", output=log)
    assert [r["training/global_step"] for r in rows] == [1, 2]
    assert log[0].count("after 2 generation batches, fewer than the 1 a training batch needs") == 2, log[0][-3000:]
    for row in rows:
        assert (row["train/num_gen_batches"], row["train/groups_played"], row["train/groups_filtered"],
                row["train/groups_kept"], row["train/gen_batch_bound_hit"]) == (2, 2, 1, 1, 1)
        assert row["episode/num_episodes"] == 4  # two generation batches of one task x two members
        _finite(row, ["actor/pg_loss", "actor/grad_norm", "critic/advantages_mean"])
