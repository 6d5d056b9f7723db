import numpy as np
import pytest
import torch

from agent_system.reward_manager import EpisodeRewardManager, episode_token_scores
from skillrl.protocol import DataProto


def test_return_sits_on_last_response_token():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    scores = episode_token_scores(mask, [10.0, -1.0, 0.5])
    assert scores.tolist() == [[0, 0, 10, 0], [-1, 0, 0, 0], [0, 0, 0, 0.5]]
    norm = episode_token_scores(mask, np.array([3.0, 1.0, 2.0]), normalize_by_length=True)
    assert norm[0, 2].item() == pytest.approx(1.0) and norm[2, 3].item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="one value per step sample"):
        episode_token_scores(mask, [1.0, 2.0])


def test_manager_fills_batch():
    batch = DataProto.from_dict({"response_mask": torch.tensor([[1, 1], [1, 0]])},
                                {"episode_rewards": np.array([1.0, 0.0], dtype=np.float32)})
    m = EpisodeRewardManager()(batch)
    assert batch.batch["token_level_scores"].tolist() == [[0, 1], [0, 0]]
    assert m["reward/episode_mean"] == 0.5
    with pytest.raises(KeyError, match="episode_rewards"):
        EpisodeRewardManager()(DataProto.from_dict({"response_mask": torch.ones(1, 1)}))
