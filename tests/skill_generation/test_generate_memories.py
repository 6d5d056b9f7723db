"""skill_generation/generate_memories.py: the project's trajectories -> memories -> a bank."""
import json

from agent_system.trajectory import Step, Trajectory, write_jsonl
from skill_generation import alfworld, generate_memories
from skill_generation.common import load_memories
from skillrl.skills.bank import load_bank
from tests.support.openai_server import Reply, openai_server  # noqa: F401  (fixture)

TEACHER = ["--model", "loopback-teacher", "--api_key_env", "SKILLRL_TEST_NO_KEY", "--max_retries", "0",
           "--log_level", "WARNING"]


def _trajectories(path):
    def traj(k, goal, task_type, won):
        steps = [Step(observation=f"You arrive at drawer {i}. The drawer {i} is closed.", admissible_actions=["look"],
                      model_output="<action>go to drawer 1</action>", action=f"go to drawer {i}",
                      reward=10.0 * (won and i == 3))
                 for i in range(1, 4)]
        return Trajectory(task=goal, task_type=task_type, task_id=f"household/valid/{k}", steps=steps, won=won,
                          env_name="household", split="valid")
    trajs = [traj(0, "put a clean apple in fridge.", "pick_clean_then_place_in_recep", True),
             traj(1, "heat some egg and put it in garbagecan.", "pick_heat_then_place_in_recep", False),
             traj(2, "find two pillow and put them in sofa.", "pick_two_obj_and_place", False)]
    write_jsonl(str(path), trajs)
    return trajs


def test_trajectories_to_memories_to_bank(openai_server, tmp_path):
    trajs = _trajectories(tmp_path / "traj.jsonl")
    out = tmp_path / "memories.json"
    argv = ["--trajectories_path", str(tmp_path / "traj.jsonl"), "--output_path", str(out),
            "--base_url", openai_server.base_url, *TEACHER]
    openai_server.script([Reply.malformed(), Reply.malformed()])  # the first trajectory's answer is unusable
    assert generate_memories.main(argv) == 1
    assert len(json.loads(out.read_text())) == 2  # the other two are kept
    assert generate_memories.main(argv) == 0  # a rerun asks only for the missing one
    assert len(openai_server.requests) == 5
    raw = json.loads(out.read_text())
    assert len(raw) == 3 and len({m["memory_id"] for m in raw}) == 3
    by_goal = {m["content"]["task_meta"]["original_goal"]: m for m in raw}
    won = by_goal["put a clean apple in fridge."]
    assert won["tags"]["outcome"] == "Success" and won["origin_env_id"] == "household/valid/0"
    assert won["content"]["refined_trajectory"]["refined_trajectory"][0]["action"] == "look"
    lost = by_goal["heat some egg and put it in garbagecan."]
    assert lost["tags"]["outcome"] == "Failure" and lost["content"]["strategic_guidelines"]["planning_pattern"] is None
    assert lost["content"]["strategic_guidelines"]["mistakes_to_avoid"][0]["bad_action"] == "search it again"
    prompt = next(r.prompt_text for r in openai_server.requests if trajs[1].task in r.prompt_text)
    assert "Outcome: failed after 3 steps" in prompt and "[2] action: go to drawer 3" in prompt
    mems = load_memories(str(out))
    assert sorted(m.success for m in mems) == [False, False, True]
    # The memories feed the bank builder.
    bank_path = tmp_path / "bank.json"
    assert alfworld.main(["--memory_path", str(out), "--output_path", str(bank_path), "--base_url",
                          openai_server.base_url, *TEACHER]) == 0
    bank = load_bank(str(bank_path))
    assert set(bank.categories()) == {"pick_clean_then_place_in_recep", "pick_heat_then_place_in_recep",
                                      "pick_two_obj_and_place"}


def test_missing_trajectories_file(tmp_path, capsys):
    assert generate_memories.main(["--trajectories_path", str(tmp_path / "none.jsonl"), "--output_path",
                                   str(tmp_path / "m.json"), "--base_url", "http://127.0.0.1:9/v1"]) == 2
    assert "none.jsonl does not exist" in capsys.readouterr().err
