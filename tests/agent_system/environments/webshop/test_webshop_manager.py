"""WebShop through the environment manager: prompts with skills, projection, the expert, bad outputs."""
from __future__ import annotations

import pytest

from agent_system.environments.env_manager import EnvironmentManager
from agent_system.environments.env_pool import LocalEnvPool
from agent_system.multi_turn_rollout.rollout_loop import MultiTurnRollout
from agent_system.multi_turn_rollout.policies import ExpertPolicy


@pytest.fixture()
def skills_memory(webshop_env_cfg):
    from agent_system.memory import SkillsOnlyMemory

    webshop_env_cfg.skills_only_memory.skills_json_path = "memory_data/webshop/claude_style_skills.json"
    return SkillsOnlyMemory.from_config(webshop_env_cfg.skills_only_memory, domain="webshop")


def test_expert_reaches_full_reward_through_the_manager(webshop_family, webshop_env_cfg, skills_memory):
    tasks = webshop_family.tasks("test") + webshop_family.tasks("valid")
    manager = EnvironmentManager(webshop_env_cfg, webshop_family, LocalEnvPool(webshop_family, len(tasks)),
                                 skills_memory)
    trajs = MultiTurnRollout(manager, env_name="webshop").run(tasks, 1, ExpertPolicy(manager.family), build_batch=False).trajectories
    for t, task in zip(trajs, tasks):
        assert t.won and t.total_reward == 10.0 and all(s.valid for s in t.steps), t.meta
        assert t.meta["task_score"] == 1.0
        assert t.task_type == task.task_type and t.task == task.payload["instruction_text"]
        assert t.steps[0].admissible_actions == ["search[<your query>]"]
        assert t.steps[-1].action == "click[buy now]"
    first = trajs[0].steps[0].prompt
    assert "WebShop" in first and tasks[0].payload["instruction_text"] in first
    assert "'search[<your query>]'" in first and "Skills that may help" in first
    later = trajs[0].steps[2].prompt  # the original's history lines: the page each action was taken on
    s0, s1 = trajs[0].steps[0], trajs[0].steps[1]
    assert (f"[Observation 1: '{s0.observation}', Action 1: '{s0.action}']\n"
            f"[Observation 2: '{s1.observation}', Action 2: '{s1.action}']") in later


@pytest.mark.parametrize("validity, expected", [("original", [False, True, True]), ("strict", [False, False, True])])
def test_malformed_outputs_are_invalid_and_the_episode_goes_on(webshop_family, webshop_env_cfg, validity, expected):
    webshop_env_cfg.max_steps, webshop_env_cfg.action_validity = 3, validity
    task = webshop_family.tasks("test")[0]
    manager = EnvironmentManager(webshop_env_cfg, webshop_family, LocalEnvPool(webshop_family, 3))
    manager.reset([task] * 3)
    # a click on the search page is well-formed (the original's rule) but not admissible (strict's)
    outputs = ["no tags at all", "<think>x</think><action>click[buy now]</action>",
               "<think>look</think><action>search[usb cable]</action>"]
    obs, rewards, dones, infos = manager.step(outputs)
    assert [i.is_action_valid for i in infos] == expected
    assert [i.action for i in infos] == ["no tags at all", "click[buy now]", "search[usb cable]"]
    assert not dones.any() and (rewards == 0).all()
    assert infos[0].info["invalid_action"] and infos[1].info["invalid_action"] and infos[0].error is None
    assert obs[2].admissible_actions[0] == "click[back to search]"
    for _ in range(2):
        obs, rewards, dones, infos = manager.step(["<think>", "", "<action>click[next >]</action>"])
    assert dones.all() and all(i.truncated for i in infos) and not any(i.won for i in infos)


@pytest.mark.parametrize("validity, invalid_rate", [("original", 0.0), ("strict", 0.5)])
def test_invalid_action_rate_and_penalty_follow_the_rule(webshop_family, webshop_env_cfg, validity, invalid_rate):
    """Every other turn a click the page does not have: well-formed (original: valid), not
    admissible (strict: invalid); the rollout's flags, the summary's rate and the penalty follow."""
    import torch

    from agent_system.multi_turn_rollout.policies import Action, Policy
    from agent_system.trajectory import summarize
    from skillrl.algorithms import apply_invalid_action_penalty

    script = ["search[shirt]", "click[no such thing]", "click[back to search]", "click[no such thing]"]

    class SearchThenClick(Policy):
        def act(self, observations, keys):
            return [Action(f"<think>x</think><action>{script[ob.step]}</action>") for ob in observations]

    webshop_env_cfg.max_steps, webshop_env_cfg.action_validity = 4, validity
    task = webshop_family.tasks("test")[0]
    manager = EnvironmentManager(webshop_env_cfg, webshop_family, LocalEnvPool(webshop_family, 1))
    traj = MultiTurnRollout(manager, env_name="webshop").run([task], 1, SearchThenClick(), build_batch=False).trajectories[0]
    flags = [s.valid for s in traj.steps]
    assert len(flags) == 4 and flags == [True, validity == "original"] * 2
    assert summarize([traj])["invalid_action_rate"] == invalid_rate
    rewards, metrics = apply_invalid_action_penalty(torch.zeros(4, 3), torch.ones(4, 3), flags, 0.1)
    assert metrics["invalid_action_rate"] == invalid_rate
    assert rewards[:, -1].tolist() == pytest.approx([0.0, -0.1 * (validity == "strict")] * 2)


def test_with_inadmissible_is_invalid_a_search_stays_valid_and_an_absent_click_does_not(webshop_family, webshop_env_cfg):
    webshop_env_cfg.inadmissible_is_invalid = True
    task = webshop_family.tasks("test")[0]
    manager = EnvironmentManager(webshop_env_cfg, webshop_family, LocalEnvPool(webshop_family, 2))
    manager.reset([task] * 2)
    # the search page offers only the template search[<your query>]
    _, _, _, infos = manager.step(["<think>a</think><action>search[usb cable]</action>",
                                   "<think>b</think><action>click[buy now]</action>"])
    assert [i.is_action_valid for i in infos] == [True, False]
