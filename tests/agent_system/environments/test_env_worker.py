"""The env worker's wire format: what an actor sends unpacks into exactly the records it packed."""
import pickle

import pytest

from agent_system.environments.base import StepResult
from agent_system.environments.env_worker import EnvGroupCore, pack_reset, pack_step, unpack_reset, unpack_step


@pytest.mark.parametrize("adm", [
    ["go to shelf 1", "look", "take mug 2 from shelf 1"],
    [],  # nothing admissible
    ["look"],
    ["", "look"],  # an empty action would vanish in a joined string
    ["look", "say a\x1fb"],  # the separator inside an action
    ("look", "help"),  # not a list: sent as it is
    ["look", 3],  # not all strings
])
def test_packed_step_unpacks_to_the_same_result_and_key_order(adm):
    info = {"won": False, "admissible_actions": adm, "task_type": "pick", "step": 2}
    res = StepResult(observation="You arrive at shelf 1.", reward=0.0, done=False, info=info)
    wire = pickle.loads(pickle.dumps(pack_step(res)))
    back = unpack_step(wire)
    assert back == res and list(back.info) == list(info)
    assert type(back.info["admissible_actions"]) is type(adm)
    assert res.info["admissible_actions"] is adm  # packing copies, never edits the environment's dict
    assert unpack_reset(pickle.loads(pickle.dumps(pack_reset(("obs", info))))) == ("obs", info)


def test_admissible_list_travels_as_one_string():
    info = {"admissible_actions": [f"go to drawer {i}" for i in range(30)]}
    _, _, _, packed = pack_step(StepResult("o", 0.0, False, info))
    assert isinstance(packed["admissible_actions"], str)


class _Env:
    def reset(self, task):
        if task.task_id == "bad":
            raise KeyError("no such game")
        return f"start {task.task_id}", {"admissible_actions": ["look", "help"], "won": False}

    def step(self, action):
        return StepResult(action, 1.0, True, {"admissible_actions": ["look"], "won": True})

    def close(self):
        pass


class _Task:
    def __init__(self, task_id):
        self.task_id = task_id


def test_group_packs_results_and_reports_errors_per_slot():
    group = EnvGroupCore(_Env, 0, 3)
    out = group.reset([_Task("a"), None, _Task("bad")])
    assert out[1] is None and out[2] == (False, "environment raised KeyError: 'no such game'")
    assert out[0][0] and unpack_reset(out[0][1]) == ("start a", {"admissible_actions": ["look", "help"], "won": False})
    out = group.step(["look", None, None])
    assert out[1:] == [None, None]
    assert unpack_step(out[0][1]) == StepResult("look", 1.0, True, {"admissible_actions": ["look"], "won": True})
