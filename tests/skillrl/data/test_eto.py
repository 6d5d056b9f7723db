"""ETO ALFWorld conversations -> trajectory records: the format, round trips, and useful errors."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent_system.trajectory import read_jsonl
from skillrl.data import eto

INSTRUCTION = ("Interact with a household to solve a task. Your output must follow this format: "
               "\"Think: your thoughts.\\nAct: your next action\".")


def _record(rid="pick_heat_then_place_in_recep-Egg-None-CounterTop-10/trial_1", **extra):
    conv = [
        {"from": "human", "value": INSTRUCTION},
        {"from": "gpt", "value": "OK"},
        {"from": "human", "value": "Here is your task. You are in the middle of a room. Looking quickly "
                                   "around you, you see a countertop 1, a fridge 1, and a microwave 1.\n"
                                   "Your task is to: heat some egg and put it in countertop."},
        {"from": "gpt", "value": "Think: An egg is likely in the fridge.\nAct: go to fridge 1"},
        {"from": "human", "value": "Observation: The fridge 1 is closed."},
        {"from": "gpt", "value": "Act: open fridge 1"},
        {"from": "human", "value": "Observation: You open the fridge 1. In it, you see a egg 1."},
        {"from": "gpt", "value": "Thought: Take it.\n\nAction: take egg 1 from fridge 1"},
    ]
    return {"id": rid, "conversations": conv, **extra}


def test_convert_record_maps_turns_to_steps():
    t = eto.convert_record(_record())
    assert t.task == "heat some egg and put it in countertop"
    assert t.task_type == "pick_heat_then_place_in_recep"
    assert t.won and t.env_name == "alfworld/AlfredTWEnv" and t.split == "train"
    assert [s.action for s in t.steps] == ["go to fridge 1", "open fridge 1", "take egg 1 from fridge 1"]
    assert t.steps[0].observation.startswith("You are in the middle of a room")
    assert "Your task is to: heat some egg" in t.steps[0].observation
    assert t.steps[1].observation == "The fridge 1 is closed."
    assert t.steps[0].model_output == "<think>An egg is likely in the fridge.</think><action>go to fridge 1</action>"
    assert t.steps[1].model_output == "<think></think><action>open fridge 1</action>"
    assert [s.reward for s in t.steps] == [0.0, 0.0, 1.0]
    assert t.meta["source"] == "eto" and t.meta["won_assumed"] is True


def test_explicit_reward_overrides_assumption_and_goal_infers_type():
    t = eto.convert_record(_record(rid="17", reward=0.0))
    assert not t.won and t.steps[-1].reward == 0.0 and t.meta["won_assumed"] is False
    # Without a task-type name in the id, the goal's wording decides.
    assert t.task_type == "pick_heat_then_place_in_recep"
    assert eto.infer_task_type("find two pillow and put them in sofa") == "pick_two_obj_and_place"
    assert eto.infer_task_type("look at bowl under the desklamp") == "look_at_obj_in_light"
    assert eto.infer_task_type("put a clean cloth in bathtubbasin") == "pick_clean_then_place_in_recep"
    assert eto.infer_task_type("put some vase on safe") == "pick_and_place_simple"


# Goals of real ALFWorld games (valid_seen), two phrasings of each task type.
REAL_GOALS = {
    "look at pencil under the desklamp": "look_at_obj_in_light",
    "examine the pencil with the desklamp": "look_at_obj_in_light",
    "put some watch on safe": "pick_and_place_simple",
    "put a vase in safe": "pick_and_place_simple",
    "put a clean spatula in drawer": "pick_clean_then_place_in_recep",
    "clean some spatula and put it in drawer": "pick_clean_then_place_in_recep",
    "cool some potato and put it in microwave": "pick_cool_then_place_in_recep",
    "put a cool tomato in microwave": "pick_cool_then_place_in_recep",
    "put a hot tomato in garbagecan": "pick_heat_then_place_in_recep",
    "heat some tomato and put it in garbagecan": "pick_heat_then_place_in_recep",
    "put two soapbar in garbagecan": "pick_two_obj_and_place",
    "find two toiletpaper and put them in cabinet": "pick_two_obj_and_place",
}


@pytest.mark.parametrize("goal", sorted(REAL_GOALS))
def test_goals_are_typed_by_the_alfworld_detector(goal):
    from agent_system.environments.alfworld.task_types import detect_alfworld_type

    assert eto.infer_task_type(goal) == detect_alfworld_type(goal) == REAL_GOALS[goal]
    assert eto.infer_task_type(goal, "17", "pick_two_obj_and_place-Pillow-None-Sofa-1/trial_2") == \
        "pick_two_obj_and_place"  # a task-type folder in the id or game path wins


def test_every_real_validation_goal_gets_its_folder_s_type(alfworld_data_dir):
    games = sorted(Path(alfworld_data_dir, "json_2.1.1", "valid_seen").glob("*/trial_*/game.tw-pddl"))
    assert len(games) > 100
    for game in games:
        goal = re.search(r"Your task is to: ([^\".]*)", json.loads(game.read_text())["grammar"]).group(1)
        assert eto.infer_task_type(goal) == game.parent.parent.name.split("-")[0], (goal, game)


def test_thought_containing_the_word_action_keeps_the_last_act():
    think, act = eto.parse_assistant_turn("Think: my next action: maybe look.\nAct: look")
    assert act == "look" and think == "my next action: maybe look."


@pytest.mark.parametrize("as_jsonl", [False, True])
def test_cli_round_trip(tmp_path, as_jsonl):
    records = [_record(), _record(rid="pick_two_obj_and_place-Pillow-None-Sofa-1/trial_2")]
    src = tmp_path / ("eto.jsonl" if as_jsonl else "eto.json")
    src.write_text("\n".join(json.dumps(r) for r in records) if as_jsonl else json.dumps(records))
    out = tmp_path / "demos.jsonl"
    assert eto.main(["--input", str(src), "--output", str(out), "--split", "valid_seen"]) == 0
    back = list(read_jsonl(str(out)))
    assert len(back) == 2 and back[1].task_type == "pick_two_obj_and_place"
    assert back[0].to_dict() == eto.convert_record(records[0], split="valid_seen").to_dict()


def test_malformed_inputs_name_file_record_and_field(tmp_path):
    bad_turn = _record()
    bad_turn["conversations"][5] = {"from": "gpt", "value": "I will open the fridge"}
    cases = [
        ([{"id": "a"}], r"record 0 \(id='a'\): missing field 'conversations'"),
        ([_record(), bad_turn], r"record 1 .*conversations\[5\] \(gpt\): expected 'Think"),
        ([{"id": "b", "conversations": [{"from": "robot", "value": "x"}]}], r"conversations\[0\]\.from='robot'"),
        ([{"id": "c", "conversations": [{"from": "human", "value": "hello"}]}], "Your task is to"),
    ]
    for i, (records, pattern) in enumerate(cases):
        src = tmp_path / f"bad{i}.json"
        src.write_text(json.dumps(records))
        with pytest.raises(ValueError, match=pattern) as e:
            eto.convert_file(str(src))
        assert str(src) in str(e.value)
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(_record()) + "\n{not json\n")
    with pytest.raises(ValueError, match=rf"{broken}:2: not valid JSON"):
        eto.convert_file(str(broken))
    with pytest.raises(FileNotFoundError, match="missing.json"):
        eto.convert_file(str(tmp_path / "missing.json"))
