"""The embedded household environment: phrasing, rules, admissible actions, splits, expert."""
import random
import re

import pytest

from agent_system.environments.base import TaskSpec, make_env_family
from agent_system.environments.household import TASK_TYPES, HouseholdEnv, generate_world
from agent_system.environments.household.engine import admissible_commands, goal_reached
from agent_system.environments.projection import project_one
from skillrl.config.schema import EnvConfig


def _family(size=1, max_steps=30, **hh):
    cfg = EnvConfig(env_name="household", max_steps=max_steps)
    cfg.household.size = size
    for k, v in hh.items():
        setattr(cfg.household, k, v)
    return make_env_family(cfg)


def _play_expert(fam, env, task):
    obs, info = env.reset(task)
    for _ in range(fam.env_cfg.max_steps):
        res = env.step(fam.expert_action(task, obs, info))
        obs, info = res.observation, res.info
        if res.done:
            return res, info
    raise AssertionError(f"{task.task_id}: episode did not end within max_steps")


@pytest.mark.parametrize("size", [1, 3, 5])
def test_expert_wins_every_task_of_every_type(size):
    fam = _family(size=size, num_train_tasks=60, num_val_tasks=30)
    env = fam.make_env()
    seen = set()
    for split in ("train", "valid"):
        for task in fam.tasks(split):
            res, info = _play_expert(fam, env, task)
            assert info["won"] and res.reward == 10.0, task.task_id
            assert info["step"] <= 12
            seen.add(task.task_type)
    assert seen == set(TASK_TYPES)


def test_first_observation_and_sentences_follow_alfworld():
    fam = _family()
    env = fam.make_env()
    obs, info = env.reset(fam.tasks("train")[2])  # a clean task
    assert re.fullmatch(r"You are in the middle of a room\. Looking quickly around you, you see (a [a-z]+ \d+, )+"
                        r"and a [a-z]+ \d+\.\n\nYour task is to: .+\.", obs), obs
    assert obs.endswith(f"Your task is to: {info['task_description']}.")
    assert info["task_type"] == "pick_clean_then_place_in_recep"
    assert env.step("fly to the moon").observation == "Nothing happens."
    assert env.step("inventory").observation == "You are not carrying anything."
    goto = next(a for a in info["admissible_actions"] if a.startswith("go to "))
    arrive = env.step(goto).observation
    target = goto[len("go to "):]
    assert re.fullmatch(rf"You arrive at {target}\. (On the {target}, you see .+\.|The {target} is closed\.|"
                        rf"The {target} is open\. In it, you see .+\.)", arrive), arrive
    assert env.step("look").observation == f"You are facing the {target}. Next to it, you see nothing."


def test_listing_order_and_article_match_alfworld():
    w = generate_world(7, 5, "pick_and_place_simple")
    env = HouseholdEnv()
    env.world = w
    w.contents[w.receptacles[0]] = []
    from agent_system.environments.household.engine import _listing

    assert _listing([]) == "nothing"
    assert _listing(["egg 1"]) == "a egg 1"
    assert _listing(["mug 1", "apple 1"]) == "a apple 1, and a mug 1"
    # by type, then the higher number first, as ALFWorld lists them
    assert _listing(["knife 1", "bread 1", "knife 2", "cabinet 10", "cabinet 9"]) == \
        "a bread 1, a cabinet 10, a cabinet 9, a knife 2, and a knife 1"


def test_closed_receptacles_hide_contents_and_refuse_take():
    fam = _family(size=3)
    env = fam.make_env()
    for task in fam.tasks("train")[:60]:
        env.reset(task)
        w = env.world
        closed = [r for r in w.receptacles if r.split()[0] in ("cabinet", "drawer", "fridge", "microwave", "safe")
                  and w.contents[r]]
        if closed:
            break
    r = closed[0]
    o = w.contents[r][0]
    assert env.step(f"go to {r}").observation == f"You arrive at {r}. The {r} is closed."
    assert env.step(f"take {o} from {r}").observation == "Nothing happens."
    opened = env.step(f"open {r}").observation
    assert opened.startswith(f"You open the {r}. The {r} is open. In it, you see ") and f"a {o}" in opened
    assert env.step(f"take {o} from {r}").observation == f"You pick up the {o} from the {r}."
    assert env.step("inventory").observation == f"You are carrying: a {o}."
    assert env.step(f"close {r}").observation == f"You close the {r}."
    assert env.step(f"move {o} to {r}").observation == "Nothing happens."  # closed again
    info = env.step(f"examine {o}").info
    assert f"open {r}" in info["admissible_actions"] and f"move {o} to {r}" not in info["admissible_actions"]


def test_heat_cool_clean_change_the_examine_text():
    fam = _family(size=2)
    env = fam.make_env()
    task = next(t for t in fam.tasks("train") if t.task_type == "pick_heat_then_place_in_recep")
    obs, info = env.reset(task)
    while not info["expert_action"].startswith("heat "):
        res = env.step(info["expert_action"])
        info = res.info
    held = env.world.holding
    assert env.step(f"examine {held}").observation in (f"There's nothing special about {held}.",
                                                       f"This is a normal {held}. In it, you see nothing.")
    heat = info["expert_action"]
    device = heat.split(" with ")[1]
    assert env.step(heat).observation == f"You heat the {held} using the {device}."
    if held.split()[0] not in ("mug", "cup", "plate"):
        assert env.step(f"examine {held}").observation == f"This is a hot {held}."


def test_admissible_actions_are_sorted_parseable_and_exactly_the_effective_commands():
    fam = _family(size=3, max_steps=40)
    env = fam.make_env()
    rng = random.Random(0)
    for task in fam.tasks("train")[:12]:
        obs, info = env.reset(task)
        done = False
        while not done:
            adm = info["admissible_actions"]
            assert adm == sorted(adm) and {"help", "inventory", "look"} <= set(adm)
            assert all(project_one(f"<think>x</think><action>{a}</action>", None)[1] for a in adm)
            if env.world.location is not None:
                assert f"go to {env.world.location}" not in adm
            before = repr(vars(env.world))
            assert env.step("take the moon from the sky").observation == "Nothing happens."
            assert repr(vars(env.world)) == before  # a non-admissible command changes nothing
            res = env.step(rng.choice(adm))
            assert res.observation != "Nothing happens."
            assert res.reward == (10.0 if res.info["won"] else 0.0)
            assert res.info["won"] == goal_reached(env.world)
            info, done = res.info, res.done
        assert info["won"] or info["step"] == 40


def test_generation_is_deterministic_and_goal_not_met_at_start():
    for tt in TASK_TYPES:
        for seed in range(25):
            a, b = generate_world(seed, 3, tt), generate_world(seed, 3, tt)
            assert vars(a) == vars(b)
            assert not goal_reached(a) and a.holding is None and a.location is None
            assert admissible_commands(a)
    descs = {generate_world(s, 1, "pick_and_place_simple").goal.description for s in range(20)}
    assert len(descs) > 5


def test_splits_ids_and_task_types():
    fam = _family(num_train_tasks=13, num_val_tasks=7, task_types=["pick_two_obj_and_place", "look_at_obj_in_light"])
    train, valid = fam.tasks("train"), fam.tasks("valid")
    assert [t.task_id for t in train[:2]] == ["household/train/0", "household/train/1"]
    assert len(train) == 13 and len(valid) == 7
    assert {t.task_type for t in train} == {"pick_two_obj_and_place", "look_at_obj_in_light"}
    assert fam.tasks("valid_unseen") == valid == fam.tasks("valid_seen")
    assert not {t.payload["seed"] for t in train} & {t.payload["seed"] for t in valid}
    other = _family(num_train_tasks=13)
    assert [t.payload for t in other.tasks("train")] == [t.payload for t in train]  # seeds: env.seed, split, index
    other.env_cfg.seed = 1
    assert [t.payload for t in other.tasks("train")] != [t.payload for t in train]


def test_bad_configuration_names_the_key():
    with pytest.raises(ValueError, match="env.household.size"):
        _family(size=9)
    with pytest.raises(ValueError, match="env.household.task_types"):
        _family(task_types=["make_coffee"])
    with pytest.raises(ValueError, match="no split"):
        _family().tasks("dev")
    with pytest.raises(ValueError, match="payload"):
        HouseholdEnv().reset(TaskSpec("x", "train", "pick_and_place_simple"))


# ------------------------------------------------------------------ the searching expert


@pytest.mark.parametrize("size", [1, 3, 5])
def test_search_expert_wins_every_task_of_every_type(size):
    fam = _family(size=size, max_steps=60, num_train_tasks=60, num_val_tasks=1, expert="search")
    env = fam.make_env()
    for task in fam.tasks("train"):
        res, info = _play_expert(fam, env, task)
        assert info["won"] and res.reward == 10.0, task.task_id


def test_search_expert_only_uses_what_it_has_seen():
    """It takes an object only after an observation showed it, and every thought names the goal object."""
    fam = _family(max_steps=60, num_train_tasks=60, expert="search")
    env = fam.make_env()
    for task in fam.tasks("train"):
        obs, info = env.reset(task)
        shown = obs
        for _ in range(60):
            action, thought = info["expert_action"], info["expert_thought"]
            assert f" {env.world.goal.obj}" in thought, (task.task_id, thought)
            m = re.match(r"take (\w+ \d+) from", action)
            if m:
                assert m.group(1) in shown, (task.task_id, action)
            res = env.step(action)
            obs, info = res.observation, res.info
            shown += "\n" + obs
            if res.done:
                break
        assert info["won"], task.task_id


def test_search_expert_ignores_where_unseen_objects_are_but_the_oracle_does_not():
    differs = 0
    for i in range(40):
        w = generate_world(1000 + i, 1, "pick_and_place_simple")
        goal_objs = [o for o, r in w.where.items() if w.rtype[o] == w.goal.obj]
        others = [r for r in w.receptacles if w.rtype[r] != w.goal.recep and r not in {w.where[o] for o in goal_objs}]
        if not others:
            continue
        from agent_system.environments.household.expert import plan_actions, search_action

        before = (search_action(w, set()), plan_actions(w)[0])
        for o in goal_objs:  # hide every goal object somewhere else
            w.contents[w.where[o]].remove(o)
            w.where[o] = others[0]
            w.contents[others[0]].append(o)
        assert search_action(w, set()) == before[0], i
        differs += plan_actions(w)[0] != before[1]
    assert differs > 5


def test_household_expert_must_be_known():
    with pytest.raises(ValueError, match="env.household.expert"):
        HouseholdEnv(expert="psychic")
    from skillrl.config import load_config

    with pytest.raises(ValueError, match="env.household.expert"):
        load_config("ppo_trainer", ["env.household.expert=psychic"])


def test_remembered_states_give_the_same_episodes_as_computing_from_scratch():
    # The engine reuses the command table and plan of a state the episode was in before; every
    # result, admissible actions and the expert's action included, must equal that of an engine
    # that computes them from scratch.
    fam = _family(size=3, max_steps=40, num_train_tasks=40)
    env, fresh, rng, reused = fam.make_env(), fam.make_env(), random.Random(3), 0
    fresh._remember = False  # every command table and plan computed from the world as it is
    for task in fam.tasks("train"):
        first = env.reset(task)
        assert first == fresh.reset(task)
        info = first[1]
        for _ in range(40):
            action = rng.choice(info["admissible_actions"] + ["dance"])
            res = env.step(action)
            assert res == fresh.step(action), task.task_id
            info = res.info
            if res.done:
                break
        reused += len(env._tables) < env._steps
    assert reused > 0  # the random walks did come back to states already planned for
