"""A user's module registers an estimator and a loss; the config and ``python -m skillrl.main_ppo`` accept them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from skillrl.config import load_config
from skillrl.protocol import DataProto

REPO = Path(__file__).resolve().parents[3]
MODULE = "tests.skillrl.algorithms.custom_algos"
NAMES = ["algorithm.adv_estimator=test_all_ones", "actor_rollout_ref.actor.policy_loss.loss_mode=test_double_vanilla"]


def test_unregistered_names_fail_naming_the_key_and_external_lib():
    with pytest.raises(ValueError, match="actor_rollout_ref.actor.policy_loss.loss_mode='test_never_registered'"):
        load_config("ppo_trainer", ["actor_rollout_ref.actor.policy_loss.loss_mode=test_never_registered"])
    with pytest.raises(ValueError, match="actor_rollout_ref.model.external_lib: cannot import 'no_such_module_x'"):
        load_config("ppo_trainer", ["actor_rollout_ref.model.external_lib=no_such_module_x"])


@pytest.mark.parametrize("spec", [MODULE, str(REPO / "tests/skillrl/algorithms/custom_algos.py")])
def test_external_lib_registers_before_validation(spec):
    cfg = load_config("ppo_trainer", [f"actor_rollout_ref.model.external_lib={spec}", *NAMES])
    assert cfg.algorithm.adv_estimator == "test_all_ones"

    from skillrl.algorithms import compute_advantage, policy_loss_from_config

    batch = DataProto.from_dict({"token_level_rewards": torch.zeros(2, 3), "response_mask": torch.tensor(
        [[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]])})
    adv = compute_advantage(batch, cfg.algorithm).batch["advantages"]
    assert adv.tolist() == [[1.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    logp = torch.zeros(2, 3)
    pg_loss = policy_loss_from_config(logp, logp, adv, batch.batch["response_mask"], cfg.actor_rollout_ref.actor)[0]
    assert pg_loss.item() == -2.0  # ratio 1, advantage 1: vanilla -1, doubled


@pytest.mark.slow(seconds=34)
def test_main_ppo_trains_with_a_registered_estimator_and_loss(tmp_path):
    """One step through the command line: the Ray workers import the module too (the actor's loss)."""
    run_dir = tmp_path / "run"
    args = [f"actor_rollout_ref.model.external_lib={MODULE}", *NAMES,
            "actor_rollout_ref.rollout.name=hf", "trainer.device=cpu", "trainer.total_training_steps=1",
            "trainer.val_before_train=False", "trainer.save_freq=-1", "trainer.export_hf_model=False",
            "trainer.progress_bar=False", "trainer.logger=[jsonl]", "data.train_batch_size=1", "env.rollout.n=2",
            "env.max_steps=2", "data.max_response_length=16", "data.val_batch_size=1",
            "env.skills_only_memory.enable_dynamic_update=False", f"trainer.default_local_dir={run_dir}"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", RAY_worker_niceness="0",
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "skillrl.main_ppo", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    step = [r for r in rows if "actor/pg_loss" in r]
    assert len(step) == 1
    assert step[0]["actor/pg_loss"] == pytest.approx(-2.0, abs=1e-4)
