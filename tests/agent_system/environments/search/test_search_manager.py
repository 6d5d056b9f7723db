"""Search QA through the environment manager, with a real retrieval server on loopback."""
from __future__ import annotations

import socket

import pytest

from agent_system.environments.env_manager import EnvironmentManager
from agent_system.environments.env_pool import LocalEnvPool
from agent_system.multi_turn_rollout.rollout_loop import MultiTurnRollout
from agent_system.multi_turn_rollout.policies import ExpertPolicy


@pytest.fixture()
def skills_memory(search_env_cfg):
    from agent_system.memory import SkillsOnlyMemory

    search_env_cfg.skills_only_memory.skills_json_path = "memory_data/search/claude_style_skills.json"
    return SkillsOnlyMemory.from_config(search_env_cfg.skills_only_memory, domain="search")


def test_oracle_reaches_full_reward_through_the_manager(search_family, search_env_cfg, skills_memory):
    tasks = search_family.tasks("train") + search_family.tasks("test")
    manager = EnvironmentManager(search_env_cfg, search_family, LocalEnvPool(search_family, len(tasks)),
                                 skills_memory)
    trajs = MultiTurnRollout(manager, env_name="search").run(tasks, 1, ExpertPolicy(manager.family), build_batch=False).trajectories
    for t, task in zip(trajs, tasks):
        assert t.won and t.total_reward == 1.0 and len(t.steps) == 2 and all(s.valid for s in t.steps), t.meta
        assert t.steps[0].action.startswith("<search>") and t.steps[1].action.startswith("<answer>")
        assert t.task == task.payload["question"] and t.task_type == task.task_type
        assert t.steps[1].observation.startswith("<information>")
        assert t.meta["data_source"] == task.payload["dataset"]
    metrics = search_family.extra_metrics(trajs)
    assert set(metrics) == {f"success_rate/{t.payload['dataset']}" for t in tasks}
    assert all(v == 1.0 for v in metrics.values())
    first, second = trajs[0].steps[0].prompt, trajs[0].steps[1].prompt
    assert tasks[0].payload["question"] in first and "Skills that may help" in first
    # the original's pairing: the query with the passages it brought back
    assert f"Turn 1: {trajs[0].steps[0].action}\n{trajs[0].steps[1].observation}" in second


def test_invalid_outputs_are_marked_and_do_not_end_the_episode(search_family, search_env_cfg):
    search_env_cfg.max_steps = 2
    task = search_family.tasks("train")[0]
    manager = EnvironmentManager(search_env_cfg, search_family, LocalEnvPool(search_family, 2))
    manager.reset([task, task])
    obs, rewards, dones, infos = manager.step(["Paris", "<think>x</think><answer>Paris</answer>"])
    assert [i.is_action_valid for i in infos] == [False, True]
    assert list(dones) == [False, True] and list(rewards) == [0.0, 1.0] and infos[1].won
    obs, rewards, dones, infos = manager.step(["<answer>Lyon</answer>", None])
    assert dones[0] and infos[0].is_action_valid and not infos[0].won and rewards[0] == 0.0


@pytest.mark.parametrize("validity, expected", [("original", [True, False, True]), ("strict", [False, True, False])])
def test_validity_follows_env_action_validity(search_family, search_env_cfg, validity, expected):
    search_env_cfg.action_validity = validity
    task = search_family.tasks("train")[0]
    gold = task.payload["golden_answers"][0]
    manager = EnvironmentManager(search_env_cfg, search_family, LocalEnvPool(search_family, 3))
    manager.reset([task] * 3)
    outs = [f"<search>{task.payload['question']}</search> and then I answer",
            f"<think>no need to <search> again</think><answer>{gold}</answer>", "<search></search>"]
    obs, rewards, dones, infos = manager.step(outs)
    assert [i.is_action_valid for i in infos] == expected
    # what reaches the environment: the original's extracted block, or strict's whole text when invalid
    assert obs[0].anchor.startswith("<information>") == (validity == "original")
    assert bool(dones[1]) and infos[1].won  # the answer block runs under both rules
    assert obs[2].anchor.startswith("Invalid action") and not dones[2]


@pytest.mark.timeout(60)
def test_unreachable_server_gives_a_failed_episode_with_a_clear_error(search_family, search_env_cfg):
    from agent_system.environments.search.family import SearchFamily

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    search_env_cfg.search.retrieval_url = f"http://127.0.0.1:{port}/retrieve"
    family = SearchFamily(search_env_cfg)
    tasks = family.tasks("train")[:2]
    manager = EnvironmentManager(search_env_cfg, family, LocalEnvPool(family, 2))
    trajs = MultiTurnRollout(manager, env_name="search").run(tasks, 1, ExpertPolicy(manager.family), build_batch=False).trajectories
    for t in trajs:
        assert not t.won and len(t.steps) == 1 and t.total_reward == 0.0
        assert f"127.0.0.1:{port}" in t.meta["error"] and "did not answer" in t.meta["error"]
