"""When the trainer skips the old log-prob pass: only for a one-step, on-policy update."""
from types import SimpleNamespace

import pytest

from skillrl.config import load_config
from skillrl.trainer.ray_trainer import GRPOTrainer


def _trainer(world_size=2, **actor):
    cfg = load_config("ppo_trainer", [f"actor_rollout_ref.actor.{k}={v}" for k, v in actor.items()])
    return SimpleNamespace(config=cfg, actor=SimpleNamespace(world_size=world_size))


@pytest.mark.parametrize("rows, actor, needed", [
    (64, dict(ppo_mini_batch_size=64), False),  # one mini-batch of 32 rows per rank
    (65, dict(ppo_mini_batch_size=64), True),  # 33 rows on a rank: two optimizer steps
    (63, dict(ppo_mini_batch_size=64), False),  # padded to 64
    (64, dict(ppo_mini_batch_size=64, ppo_epochs=2), True),  # the second epoch is off-policy
    (16, dict(ppo_mini_batch_size=8), True),
])
def test_old_log_probs_are_computed_only_when_the_update_can_be_off_policy(rows, actor, needed):
    assert GRPOTrainer._needs_old_log_prob(_trainer(**actor), rows) is needed


def test_kl_in_reward_needs_them_anyway():
    t = _trainer(ppo_mini_batch_size=64)
    t.config.algorithm.use_kl_in_reward = True
    assert GRPOTrainer._needs_old_log_prob(t, 8)
