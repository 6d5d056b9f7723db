"""The policies' sampling seeds and the expert's output format (the engines' side is in tests/skillrl/workers)."""
from __future__ import annotations

import numpy as np

from agent_system.environments.base import Observation, make_env_family
from agent_system.multi_turn_rollout.policies import EnginePolicy, EpisodeKey, ExpertPolicy, turn_seed
from skillrl.config import load_config
from skillrl.workers.rollout.base import SamplingParams, episode_seed


def _seeds(policy, keys):
    return policy.sampling_for(keys).seeds


def test_each_play_of_a_task_and_each_turn_gets_its_own_seed_whatever_the_batch():
    policy = EnginePolicy(None, None, SamplingParams(seed=3))
    first = _seeds(policy, [EpisodeKey("t/a", 0, 0), EpisodeKey("t/b", 0, 0), EpisodeKey("t/a", 1, 0)])
    assert len(set(first)) == 3  # the second play of t/a is not a copy of the first
    later = _seeds(policy, [EpisodeKey("t/a", 1, 1), EpisodeKey("t/a", 0, 1)])
    assert len(set(later) | set(first)) == 5  # a new turn draws new numbers
    # the same task, play and turn in another batch and policy object: the same seed
    other = EnginePolicy(None, None, SamplingParams(seed=3))
    assert _seeds(other, [EpisodeKey("t/b", 0, 0), EpisodeKey("t/a", 0, 0)]) == [first[1], first[0]]
    assert first[0] == episode_seed(3, "t/a", 0, 0)
    assert _seeds(EnginePolicy(None, None, SamplingParams(seed=4)), [EpisodeKey("t/a", 0, 0)]) != first[:1]


def test_training_seeds_each_call_by_step_and_turn_as_before():
    policy = EnginePolicy(None, None, SamplingParams(seed=5), per_episode=False, train_step=7)
    s = policy.sampling_for([EpisodeKey("t/a", 0, 2), EpisodeKey("t/b", 1, 2)])
    # the formula of the trainer's per-turn generator before the one episode driver: unchanged samples
    assert s.seeds is None and s.seed == int(np.random.SeedSequence([5, 7, 0, 2]).generate_state(1)[0] >> 1)
    assert s.seed == turn_seed(5, 7, 2)
    # dynamic sampling's further generation batches of the step draw other numbers
    extra = EnginePolicy(None, None, SamplingParams(seed=5), per_episode=False, train_step=7, gen_batch=1)
    assert extra.sampling_for([EpisodeKey("t/a", 0, 2)]).seed == turn_seed(5, 7, 2, 1) != s.seed
    assert EnginePolicy(None, None, SamplingParams(seed=None)).sampling_for([EpisodeKey("t", 0, 0)]).seed is None


def test_expert_policy_writes_the_family_format():
    family = make_env_family(load_config("ppo_trainer").env)
    task = family.tasks("train")[0]
    ob = Observation(prompt="p", anchor="a", task="t", task_type=task.task_type, env_index=0, task_id=task.task_id,
                     step=0, done=False, spec=task, info={"expert_action": "go to desk 1"})
    (act,) = ExpertPolicy(family).act([ob], [EpisodeKey(task.task_id, 0, 0)])
    assert act.text == ("<think>Following the known solution, the next step is: go to desk 1.</think>\n"
                        "<action>go to desk 1</action>") and act.token_ids is None
    ob.info = {}
    assert "<action>look</action>" in ExpertPolicy(family).act([ob], [EpisodeKey("x", 0, 0)])[0].text
