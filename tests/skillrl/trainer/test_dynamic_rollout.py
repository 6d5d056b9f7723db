"""A step's rollout under dynamic sampling: generation batches played until the kept groups fill it."""
from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np

from agent_system.multi_turn_rollout.rollout_loop import RolloutResult, pack_step_samples
from agent_system.reward_manager.episode import EpisodeRewardManager
from agent_system.trajectory import Trajectory
from skillrl.protocol import DataProto
from skillrl.trainer.dynamic_rollout import roll_out_filtered


def _generation_batch(name, returns, turns, width):
    """Groups ``name0``, ``name1``.. of two members; member j of group g plays ``turns[g][j]`` turns
    with prompts of ``width`` tokens and returns ``returns[g][j]``."""
    rows, trajectories = [], []
    for g, (rets, lens) in enumerate(zip(returns, turns)):
        for j, (ret, n) in enumerate(zip(rets, lens)):
            trajectories.append(Trajectory(task=f"{name}{g}", task_type="t", task_id=f"{name}{g}", won=ret > 0))
            rows += [(f"{name}{g}", f"{name}{g}.{j}", ret, k) for k in range(n)]
    tensors = pack_step_samples([[5] * width] * len(rows), [[7, 8]] * len(rows), pad_id=0)
    batch = DataProto.from_dict(tensors, {
        "uid": [r[0] for r in rows], "traj_uid": [r[1] for r in rows], "step_index": [r[3] for r in rows],
        "episode_rewards": np.array([r[2] for r in rows], dtype=np.float32)})
    metrics = {"rollout/num_step_samples": float(len(rows)), "skills/prompt_tokens_mean": 2.0,
               "skills/prompt_tokens_total": 2.0 * len(rows)}
    return RolloutResult(batch, trajectories, metrics, {"total": 1.5, "generate": 1.0})


def _run(batches, max_num_gen_batches=0, target=2):
    asked = []

    def play(k):
        asked.append(k)
        return batches[k]

    cfg = SimpleNamespace(metric="seq_reward", max_num_gen_batches=max_num_gen_batches)
    scorer = EpisodeRewardManager()
    rollout, metrics = roll_out_filtered(play, scorer, cfg, target, pad_token_id=0)
    return rollout, metrics, asked


def test_generation_batches_are_played_until_the_kept_groups_fill_the_batch():
    batches = [
        _generation_batch("a", [[1, 1], [0, 0]], [[2, 1], [1, 3]], width=3),  # both groups constant
        _generation_batch("b", [[1, 0], [0, 0]], [[1, 2], [2, 2]], width=4),  # b0 varies
        _generation_batch("c", [[0, 0], [0, 10]], [[1, 1], [3, 1]], width=2),  # c1 varies
        _generation_batch("d", [[1, 0], [1, 0]], [[1, 1], [1, 1]], width=2),  # never played
    ]
    rollout, metrics, asked = _run(batches, max_num_gen_batches=5)
    assert asked == [0, 1, 2]
    nt = rollout.batch.non_tensor_batch
    assert nt["traj_uid"].tolist() == ["b0.0", "b0.1", "b0.1", "c1.0", "c1.0", "c1.0", "c1.1"]
    assert nt["step_index"].tolist() == [0, 0, 1, 0, 1, 2, 0]
    assert rollout.batch.batch["prompts"].shape == (7, 4)  # the widest prompt kept (b's) and padded c's
    assert rollout.batch.batch["prompts"][3].tolist() == [0, 0, 5, 5]
    assert rollout.batch.batch["token_level_scores"].sum(1).tolist() == [1, 0, 0, 0, 0, 0, 10]
    assert metrics == {"train/num_gen_batches": 3.0, "train/groups_played": 6.0, "train/groups_filtered": 4.0,
                       "train/groups_kept": 2.0, "train/gen_batch_bound_hit": 0.0}
    # the step's episode metrics see every episode played; counts and times add up
    assert len(rollout.trajectories) == 12
    assert rollout.metrics == {"rollout/num_step_samples": 7.0 + 7.0 + 6.0, "skills/prompt_tokens_mean": 2.0,
                               "skills/prompt_tokens_total": 40.0}
    assert rollout.timing == {"total": 4.5, "generate": 3.0}


def test_the_bound_keeps_the_last_batch_unfiltered_and_logs(caplog):
    batches = [_generation_batch("a", [[1, 1], [0, 0]], [[1, 1], [1, 1]], width=2),
               _generation_batch("b", [[1, 1], [1, 0]], [[1, 1], [1, 1]], width=2)]
    with caplog.at_level(logging.WARNING, logger="skillrl.algorithms"):
        rollout, metrics, asked = _run(batches, max_num_gen_batches=2)
    assert asked == [0, 1] and metrics["train/gen_batch_bound_hit"] == 1.0
    assert "1 groups with a varying metric after 2 generation batches" in caplog.text
    assert sorted(set(rollout.batch.non_tensor_batch["uid"])) == ["b0", "b1"]


def test_a_generation_batch_without_samples_ends_the_sampling(caplog):
    empty = RolloutResult(None, [], {"rollout/num_step_samples": 0.0}, {"total": 1.0})
    batches = [_generation_batch("a", [[1, 0], [0, 0]], [[1, 1], [1, 1]], width=2), empty]
    with caplog.at_level(logging.WARNING, logger="skillrl.trainer"):
        rollout, metrics, asked = _run(batches)  # no bound: it would otherwise ask for more
    assert asked == [0, 1] and "training on the 1 groups kept so far" in caplog.text
    assert rollout.batch.non_tensor_batch["uid"].tolist() == ["a0", "a0"]
    assert metrics["train/num_gen_batches"] == 2.0 and metrics["train/groups_kept"] == 1.0
    nothing, _, _ = _run([empty])
    assert nothing.batch is None
    constant = _generation_batch("c", [[1, 1]], [[1, 1]], width=2)
    nothing, metrics, _ = _run([constant, empty])  # every group filtered out, then nothing played
    assert nothing.batch is None and metrics["train/groups_filtered"] == 1.0
