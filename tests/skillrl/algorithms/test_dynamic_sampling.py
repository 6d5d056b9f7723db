"""DAPO dynamic sampling: which groups are kept, and accumulating them over generation batches."""
import logging

import numpy as np
import pytest
import torch

from skillrl.algorithms import DynamicSampler, filter_metric_values, groups_with_varying_metric
from skillrl.protocol import DataProto


def test_keep_groups_whose_metric_varies_or_that_have_one_member():
    keep = groups_with_varying_metric(["a", "a", "b", "b", "c"], [1.0, 0.0, 1.0, 1.0, 0.0])
    assert keep.tolist() == [True, True, False, False, True]


def test_members_are_trajectories_when_given():
    # d: two rows of one trajectory (one member) -> kept; e: trajectories y, z, all 1 -> dropped;
    # f: trajectories p (1, 1) and q (0) -> kept
    groups = ["d", "d", "e", "e", "e", "e", "f", "f", "f"]
    trajs = ["x", "x", "y", "y", "z", "z", "p", "p", "q"]
    values = [1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert groups_with_varying_metric(groups, values, trajs).tolist() == [True] * 2 + [False] * 4 + [True] * 3
    # without trajectory ids d's two rows are two members with equal values -> dropped
    assert groups_with_varying_metric(groups, values)[:2].tolist() == [False, False]
    with pytest.raises(ValueError, match="one entry per row"):
        groups_with_varying_metric(["a"], [1.0, 2.0])


def _rollout(uids, rewards, extra=None):
    """One row per trajectory; the reward on the last of 2 response tokens."""
    scores = torch.zeros(len(uids), 2)
    scores[:, -1] = torch.tensor(rewards, dtype=torch.float32)
    nt = {"uid": list(uids), "traj_uid": [f"{u}{i}" for i, u in enumerate(uids)], **(extra or {})}
    return DataProto.from_dict({"token_level_scores": scores, "token_level_rewards": scores * 2}, nt)


def test_metric_values():
    batch = _rollout(["a", "a"], [1.0, 0.0], {"won": [True, False], "episode_rewards": [3.0, 0.5]})
    assert filter_metric_values(batch, "seq_reward").tolist() == [1.0, 0.0]
    assert filter_metric_values(batch, "seq_final_reward").tolist() == [2.0, 0.0]
    assert filter_metric_values(batch, "won").tolist() == [1.0, 0.0]
    assert filter_metric_values(batch, "episode_rewards").tolist() == [3.0, 0.5]
    with pytest.raises(ValueError, match="unknown dynamic-sampling metric 'acc' .algorithm.filter_groups.metric.; "
                                         "known: episode_rewards, seq_final_reward, seq_reward, won"):
        filter_metric_values(batch, "acc")
    with pytest.raises(ValueError, match=r"metric=seq_reward needs batch\['token_level_scores'\]"):
        filter_metric_values(batch.select(batch_keys=["token_level_rewards"]), "seq_reward")
    with pytest.raises(ValueError, match="metric=won needs the rollout field 'won'"):
        filter_metric_values(batch.select(batch_keys=["token_level_scores"], non_tensor_batch_keys=["uid"]), "won")


def test_sampler_accumulates_until_full_and_cuts_at_whole_groups():
    sampler = DynamicSampler(target_groups=2, max_num_gen_batches=3)
    kept = sampler.add(_rollout(["a", "a", "b", "b"], [1, 0, 1, 1]), "seq_reward")
    assert kept.non_tensor_batch["uid"].tolist() == ["a", "a"] and not sampler.done
    sampler.add(_rollout(["c", "c", "d", "d"], [0, 1, 1, 0]), "seq_reward")
    assert sampler.done and sampler.num_gen_batches == 2 and sampler.num_groups == 3
    out = sampler.batch()
    assert out.non_tensor_batch["uid"].tolist() == ["a", "a", "c", "c"]
    with pytest.raises(RuntimeError, match="after the sampler is done"):
        sampler.add(_rollout(["e"], [1]), "seq_reward")


def test_exhausted_budget_keeps_the_last_batch_unfiltered_and_logs(caplog):
    sampler = DynamicSampler(target_groups=2, max_num_gen_batches=2)
    sampler.add(_rollout(["a", "a"], [1, 0]), "seq_reward")
    with caplog.at_level(logging.WARNING, logger="skillrl.algorithms"):
        sampler.add(_rollout(["b", "b"], [1, 1]), "seq_reward")
    assert "1 groups with a varying metric after 2 generation batches" in caplog.text
    assert "max_num_gen_batches" in caplog.text
    assert sampler.done and sampler.batch().non_tensor_batch["uid"].tolist() == ["a", "a", "b", "b"]


def test_exhausted_budget_can_raise_as_verl_does():
    sampler = DynamicSampler(target_groups=2, max_num_gen_batches=1, exhausted="error")
    with pytest.raises(ValueError, match=r"0 groups .* after 1 generation batches.*max_num_gen_batches"):
        sampler.add(_rollout(["a", "a"], [1, 1]), "seq_reward")


def test_bad_settings_name_the_key():
    with pytest.raises(ValueError, match="algorithm.filter_groups.max_num_gen_batches=-1 must be >= 0"):
        DynamicSampler(target_groups=2, max_num_gen_batches=-1)
    with pytest.raises(ValueError, match="data.train_batch_size"):
        DynamicSampler(target_groups=0, max_num_gen_batches=1)
    with pytest.raises(ValueError, match="exhausted='skip'"):
        DynamicSampler(2, 1, exhausted="skip")
    with pytest.raises(RuntimeError, match="before any add"):
        DynamicSampler(2, 1).batch()


def test_a_batch_with_no_varying_group_adds_nothing():
    sampler = DynamicSampler(target_groups=1, max_num_gen_batches=3)
    assert len(sampler.add(_rollout(["a", "a"], [1, 1]), "seq_reward")) == 0 and not sampler.done
    sampler.add(_rollout(["b", "b"], [1, 0]), "seq_reward")
    assert sampler.done and sampler.batch().non_tensor_batch["uid"].tolist() == ["b", "b"]


def test_no_bound_keeps_generating_as_verl_does_with_zero():
    sampler = DynamicSampler(target_groups=1, max_num_gen_batches=0)
    for i in range(12):  # more than any bound the recipes set
        sampler.add(_rollout([f"g{i}", f"g{i}"], [1, 1]), "seq_reward")
    assert not sampler.done and sampler.num_gen_batches == 12
    sampler.add(_rollout(["last", "last"], [0, 1]), "seq_reward")
    assert sampler.done and sampler.metrics() == {
        "train/num_gen_batches": 13.0, "train/groups_played": 13.0, "train/groups_filtered": 12.0,
        "train/groups_kept": 1.0, "train/gen_batch_bound_hit": 0.0}


def test_a_rollout_without_samples_counts_as_a_generation_batch():
    sampler = DynamicSampler(target_groups=1, max_num_gen_batches=2)
    assert sampler.add(None, "seq_reward") is None
    assert sampler.batch() is None and not sampler.done
    sampler.add(_rollout(["a", "a"], [1, 1]), "seq_reward")  # the bound: kept unfiltered
    assert sampler.done and sampler.metrics()["train/gen_batch_bound_hit"] == 1.0
    assert sampler.metrics()["train/groups_filtered"] == 0.0


# ----------------------------------------------------------------- multi-turn generation batches


def _turns(episodes, pad=0):
    """A generation batch as the rollout loop packs it: one row per turn of each episode, prompts
    left-padded and responses right-padded to this batch's longest; the episode return on the last
    response token of every row. ``episodes``: (uid, traj_uid, return, [(prompt ids, response ids)])."""
    rows = [(u, t, ret, k, p, r) for u, t, ret, turns in episodes for k, (p, r) in enumerate(turns)]
    P, R = max(len(x[4]) for x in rows), max(len(x[5]) for x in rows)
    prompts = torch.tensor([[pad] * (P - len(p)) + p for *_, p, _ in rows])
    responses = torch.tensor([r + [pad] * (R - len(r)) for *_, r in rows])
    attn = torch.tensor([[0] * (P - len(p)) + [1] * len(p) + [1] * len(r) + [0] * (R - len(r)) for *_, p, r in rows])
    scores = torch.zeros(len(rows), R)
    for i, (_, _, ret, _, _, r) in enumerate(rows):
        scores[i, len(r) - 1] = ret
    tensors = {"prompts": prompts, "responses": responses, "input_ids": torch.cat([prompts, responses], 1),
               "attention_mask": attn, "position_ids": (attn.cumsum(1) - 1).clamp(min=0),
               "response_mask": attn[:, P:], "token_level_scores": scores}
    return DataProto.from_dict(tensors, {"uid": [x[0] for x in rows], "traj_uid": [x[1] for x in rows],
                                         "step_index": [x[3] for x in rows]})


def test_multi_turn_batches_of_different_widths_are_filtered_by_group_and_concatenated():
    first = _turns([
        ("a", "a0", 1.0, [([1, 2], [3]), ([4, 5], [6, 7])]),  # two turns, won
        ("a", "a1", 0.0, [([1, 2], [8])]),                     # one turn, lost: group a varies -> kept
        ("b", "b0", 0.0, [([9, 9, 9, 9], [5, 5, 5])]),         # b: both lost -> dropped (the widest rows)
        ("b", "b1", 0.0, [([9], [5]), ([9], [5])]),
    ])
    second = _turns([
        ("c", "c0", 1.0, [([6, 6, 6, 6, 6], [2, 2, 2, 2])]),   # c: both won -> dropped
        ("c", "c1", 1.0, [([6], [2])]),
        ("d", "d0", 0.0, [([7], [1])]),                        # d: varies -> kept
        ("d", "d1", 1.0, [([7], [1]), ([7, 1, 7], [2, 3]), ([7, 1, 7, 2, 3], [4])]),
    ])
    sampler = DynamicSampler(target_groups=2, max_num_gen_batches=3, pad_token_id=0)
    sampler.add(first, "seq_reward")
    assert not sampler.done
    sampler.add(second, "seq_reward")
    assert sampler.done
    out = sampler.batch()
    nt = out.non_tensor_batch
    assert nt["uid"].tolist() == ["a", "a", "a", "d", "d", "d", "d"]
    assert nt["traj_uid"].tolist() == ["a0", "a0", "a1", "d0", "d1", "d1", "d1"]
    assert nt["step_index"].tolist() == [0, 1, 0, 0, 0, 1, 2]
    # widths: the longest kept prompt (5, d1's third turn) and response (2); b's and c's are gone
    assert out.batch["prompts"].tolist() == [[0, 0, 0, 1, 2], [0, 0, 0, 4, 5], [0, 0, 0, 1, 2], [0, 0, 0, 0, 7],
                                             [0, 0, 0, 0, 7], [0, 0, 7, 1, 7], [7, 1, 7, 2, 3]]
    assert out.batch["responses"].tolist() == [[3, 0], [6, 7], [8, 0], [1, 0], [1, 0], [2, 3], [4, 0]]
    assert out.batch["input_ids"][1].tolist() == [0, 0, 0, 4, 5, 6, 7]
    assert out.batch["position_ids"][5].tolist() == [0, 0, 0, 1, 2, 3, 4]
    assert out.batch["attention_mask"][6].tolist() == [1, 1, 1, 1, 1, 1, 0]
    assert out.batch["token_level_scores"].tolist() == [[1, 0], [0, 1], [0, 0], [0, 0], [1, 0], [0, 1], [1, 0]]
    assert torch.equal(out.batch["response_mask"], out.batch["attention_mask"][:, 5:])
    assert sampler.metrics() == {"train/num_gen_batches": 2.0, "train/groups_played": 4.0,
                                 "train/groups_filtered": 2.0, "train/groups_kept": 2.0,
                                 "train/gen_batch_bound_hit": 0.0}


def test_surplus_groups_are_cut_whole():
    sampler = DynamicSampler(target_groups=1, max_num_gen_batches=1)
    sampler.add(_turns([("a", "a0", 1.0, [([1], [2]), ([1], [2])]), ("a", "a1", 0.0, [([1], [2])]),
                        ("b", "b0", 1.0, [([1], [2])]), ("b", "b1", 0.0, [([1], [2])])]), "seq_reward")
    out = sampler.batch()
    assert out.non_tensor_batch["traj_uid"].tolist() == ["a0", "a0", "a1"]
    assert sampler.metrics()["train/groups_kept"] == 1.0
