"""The model policy's per-episode sampling seeds (the engines' side is in tests/skillrl/workers)."""
from __future__ import annotations

from agent_system.multi_turn_rollout.policies import EnginePolicy
from skillrl.workers.rollout.base import SamplingParams


def _obs(env_index, task_id, step):
    return {"env_index": env_index, "task_id": task_id, "step": step, "prompt": "p"}


def test_each_play_of_a_task_and_each_turn_gets_its_own_seed_whatever_the_slot():
    policy = EnginePolicy(None, None, SamplingParams(seed=3), max_prompt_length=16)
    first = policy.episode_seeds([_obs(0, "t/a", 0), _obs(1, "t/b", 0), _obs(2, "t/a", 0)])
    assert len(set(first)) == 3  # the second play of t/a is not a copy of the first
    later = policy.episode_seeds([_obs(2, "t/a", 1), _obs(0, "t/a", 1)])
    assert len(set(later) | set(first)) == 5  # a new turn draws new numbers

    # the same task, play and turn in another slot, batch and policy object: the same seed
    other = EnginePolicy(None, None, SamplingParams(seed=3), max_prompt_length=16)
    assert other.episode_seeds([_obs(5, "t/b", 0), _obs(7, "t/a", 0)]) == [first[1], first[0]]
    assert EnginePolicy(None, None, SamplingParams(seed=4), 16).episode_seeds([_obs(0, "t/a", 0)]) != first[:1]


def test_without_a_seed_or_the_managers_keys_the_call_seed_is_kept():
    assert EnginePolicy(None, None, SamplingParams(seed=None), 16).episode_seeds([_obs(0, "t/a", 0)]) is None
    assert EnginePolicy(None, None, SamplingParams(seed=0), 16).episode_seeds([{"prompt": "p"}]) is None
