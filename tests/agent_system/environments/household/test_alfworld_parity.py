"""The household environment speaks like the real ALFWorld engine (alfworld 0.4.2 + TextWorld).

Real games from ../shared/data/alfworld are played along their walkthroughs; every observation
of both engines must fit the same sentence forms, and both admissible lists follow the same
conventions (plain string order, help/inventory/look always present, parseable by projection).
"""
import glob
import json
import os
import random
import re

import pytest

from agent_system.environments.base import make_env_family
from agent_system.environments.projection import project_one
from skillrl.config.schema import EnvConfig

N = r"[a-z]+ \d+"
LIST = rf"(nothing|a {N}(, a {N})*(, and a {N})?)"
SENTENCES = [
    rf"You are in the middle of a room\. Looking quickly around you, you see {LIST}\.(\n\nYour task is to: [a-z ]+\.)?",
    rf"You arrive at {N}\. (On the {N}, you see {LIST}\.|The {N} is closed\."
    rf"|The {N} is open\. In it, you see {LIST}\.)",
    rf"You open the {N}\. The {N} is open\. In it, you see {LIST}\.",
    rf"On the {N}, you see {LIST}\.", rf"The {N} is closed\.", rf"The {N} is open\. In it, you see {LIST}\.",
    rf"You close the {N}\.",
    rf"You pick up the {N} from the {N}\.",
    rf"You move the {N} to the {N}\.",
    rf"You (heat|cool|clean) the {N} using the {N}\.",
    rf"You turn on the {N}\.",
    rf"You are carrying: a {N}\.", r"You are not carrying anything\.",
    rf"You are facing the {N}\. Next to it, you see nothing\.",
    rf"This is a (hot|cold|clean|hot and clean|cool and clean) {N}\.", rf"There's nothing special about {N}\.",
    rf"This is a normal {N}\. In it, you see nothing\.",
    r"Nothing happens\.",
]
BANNER = "-= Welcome to TextWorld, ALFRED! =-\n\n"  # TextWorld's intro line; household leaves it out


def _fits(obs: str) -> bool:
    return any(re.fullmatch(p, obs) for p in SENTENCES)


def _check_admissible(adm):
    assert adm == sorted(adm)
    assert {"help", "inventory", "look"} <= set(adm)
    assert all(project_one(f"<think>t</think><action>{a}</action>", None)[1] for a in adm), adm


def _alfworld_games(root, k_per_type=1):
    games = sorted(glob.glob(os.path.join(root, "json_2.1.1", "valid_seen", "*", "*", "game.tw-pddl")))
    picked = {}
    for g in games:
        ttype = os.path.basename(os.path.dirname(os.path.dirname(g))).split("-")[0]
        if len(picked.setdefault(ttype, [])) < k_per_type and json.load(open(g)).get("solvable", True):
            picked[ttype].append(g)
    return [g for gs in picked.values() for g in gs]


def test_real_alfworld_sentences_fit_the_household_forms(alfworld_data_dir):
    textworld = pytest.importorskip("textworld")
    from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos

    games = _alfworld_games(alfworld_data_dir)[:2]  # a reset costs ~1.5 s
    assert games, f"no valid_seen games under {alfworld_data_dir}"
    for game in games:
        infos = textworld.EnvInfos(won=True, admissible_commands=True, extras=["gamefile"])
        env = AlfredInfos(AlfredDemangler(textworld.envs.pddl.PddlEnv(infos)))
        env.load(game)
        state = env.reset()
        assert state.feedback.startswith(BANNER)
        assert _fits(state.feedback[len(BANNER):]), state.feedback
        _check_admissible(state["admissible_commands"])
        for action in json.load(open(game))["walkthrough"] + ["inventory", "fly away"]:
            state, _, _ = env.step(action)
            assert _fits(state.feedback), (game, action, state.feedback)
            _check_admissible(state["admissible_commands"])
        assert state["won"]


def test_household_sentences_fit_the_same_forms():
    cfg = EnvConfig(env_name="household", max_steps=25)
    cfg.household.size = 4
    fam = make_env_family(cfg)
    env = fam.make_env()
    rng = random.Random(1)
    for task in fam.tasks("train")[:24]:
        obs, info = env.reset(task)
        assert _fits(obs), obs
        done = False
        while not done:
            action = rng.choice([a for a in info["admissible_actions"] if a != "help"] + ["fly away"])
            res = env.step(action)
            assert _fits(res.observation), (action, res.observation)
            _check_admissible(res.info["admissible_actions"])
            info, done = res.info, res.done
