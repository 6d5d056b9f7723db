"""Episode-level reward: every step sample of an episode is scored with the episode's return.

The return is placed on the last response token of each step sample (``token_level_scores``);
every other token scores 0. With GRPO the advantage is then the group-normalised return, shared
by all steps of the episode, as in the paper. ``normalize_by_length`` (off by default, as in
verl-agent) divides the return by the number of response tokens of the step.
"""
from __future__ import annotations

from typing import Any, Dict

import numpy as np
import torch


def episode_token_scores(response_mask: torch.Tensor, episode_rewards: Any, normalize_by_length: bool = False) -> torch.Tensor:
    """A ``(batch, response_len)`` float tensor holding each row's return at its last response token."""
    rewards = torch.as_tensor(np.asarray(episode_rewards, dtype=np.float32))
    if rewards.shape != (response_mask.shape[0],):
        raise ValueError(
            f"episode_rewards has shape {tuple(rewards.shape)}; expected one value per step sample "
            f"({response_mask.shape[0]})"
        )
    lengths = response_mask.long().sum(-1)
    if normalize_by_length:
        rewards = rewards / lengths.clamp(min=1).float()
    scores = torch.zeros(response_mask.shape, dtype=torch.float32)
    # Right-padded responses: the last real token sits at length-1. A sample with no response
    # token (never produced by the engines, guarded anyway) gets its score on a masked-out slot.
    last = (lengths - 1).clamp(min=0)
    scores[torch.arange(response_mask.shape[0]), last] = rewards
    return scores


class EpisodeRewardManager:
    """Callable on a step-sample batch: fills ``token_level_scores`` from ``episode_rewards``."""

    def __init__(self, normalize_by_length: bool = False):
        self.normalize_by_length = normalize_by_length

    def __call__(self, batch: Any) -> Dict[str, float]:
        if "episode_rewards" not in batch.non_tensor_batch:
            raise KeyError("the batch has no 'episode_rewards' (non-tensor) field; it must come from the rollout loop")
        mask = batch.batch["response_mask"]
        batch.batch["token_level_scores"] = episode_token_scores(
            mask, batch.non_tensor_batch["episode_rewards"], self.normalize_by_length
        )
        return {"reward/episode_mean": float(np.mean(batch.non_tensor_batch["episode_rewards"].astype(np.float64)))}
