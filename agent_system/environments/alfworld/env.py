"""One ALFWorld game at a time on the real engine: TextWorld's PDDL backend with ALFWorld's wrappers.

The engine is the stack ``alfworld.agents.environment.AlfredTWEnv.init_env`` registers for each
game (``PddlEnv`` -> ``AlfredDemangler`` -> ``AlfredInfos`` -> ``Filter``, requesting ``won``,
``admissible_commands`` and the ``gamefile`` extra), built directly instead of through
``GenericEnvironment`` so a game is loaded from its parsed JSON. A game is played as ALFWorld
plays it: with the PDDL domain and grammar stored inside the game file (they carry the goal
sentence); the package's own ``alfworld/data/alfred.pddl`` / ``alfred.twl2`` are used only for a
game file that lacks them.

Departures from ALFWorld's batch gym environment:

* The intro banner (``-= Welcome to TextWorld, ALFRED! =-``) is dropped from the first
  observation, as ALFWorld's prompting baselines do; the room and the "Your task is to: ..."
  sentence are kept verbatim.
* ``help`` (a meta command, not a move in the game) is removed from the admissible actions; typing
  it still works.
* Reward is ``10 * won`` on the winning step; the episode cap (``env.max_steps``) is the caller's.
* An expert plan is in every ``info`` (``expert_plan``, ``expert_action``): the rest of the game's
  recorded walkthrough while the executed actions follow it (commands the engine ignores, i.e. not
  admissible, do not count as leaving it). Once an episode leaves it, the plan is empty unless
  ``replan=True`` (``env.alfworld.expert_replan``): then fast-downward's replanner (the one
  ALFWorld's ``AlfredExpert(PLANNER)`` uses) makes a new plan, once per departure. It is off by
  default because one replan of a cool/clean game took 5-50 s here.
* With speed-ups on, a reset to the game that is already loaded skips the reload (the load is a
  pure function of the file); see ``speedups.py`` for the engine caches.
"""
from __future__ import annotations

import json
import logging
import os
import time
from typing import Any, Dict, List, Optional, Tuple

from agent_system.environments.base import StepResult, TaskSpec, TextEnv
from agent_system.environments.alfworld import speedups as _speedups
from agent_system.environments.alfworld.games import task_type_from_path

logger = logging.getLogger(__name__)

WIN_REWARD = 10.0
BANNER_PREFIX = "-= Welcome to TextWorld"
TASK_PREFIX = "Your task is to: "
HIDDEN_COMMANDS = ("help",)


def strip_banner(text: str) -> str:
    """Drop ALFWorld's welcome banner paragraph, keep the rest of the text as printed."""
    if text.startswith(BANNER_PREFIX):
        _, _, rest = text.partition("\n\n")
        return rest.lstrip("\n")
    return text


def task_description(observation: str) -> str:
    """The goal: what follows "Your task is to: " in the first observation ("" if absent)."""
    _, found, goal = observation.partition(TASK_PREFIX)
    return goal.strip().split("\n", 1)[0].strip() if found else ""


def _unset_empty_data_var() -> None:
    # alfworld's import runs os.makedirs($ALFWORLD_DATA), which fails on "" with a bare
    # FileNotFoundError; an empty value means "not set" (alfworld then uses its own cache dir).
    if os.environ.get("ALFWORLD_DATA") == "":
        del os.environ["ALFWORLD_DATA"]


class Engine:
    """ALFWorld's wrapper stack over TextWorld's PDDL backend, for one game at a time.

    ``textworld.start``/``GenericEnvironment`` would pick ``PddlEnv`` from the ``.tw-pddl``
    extension; it is built directly here so a game can be loaded from its parsed JSON.
    """

    def __init__(self):
        import textworld

        _unset_empty_data_var()
        from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
        from textworld.envs.pddl import PddlEnv
        from textworld.envs.wrappers import Filter

        request = textworld.EnvInfos(won=True, admissible_commands=True, score=True, extras=["gamefile", "walkthrough"])
        self.pddl = PddlEnv(request)
        self.infos = AlfredInfos(AlfredDemangler(shuffle=False)(self.pddl))
        self.top = Filter(self.infos)

    def load(self, gamefile: str, data: Dict[str, Any]) -> None:
        self.top.load(data)
        self.pddl._game_file = gamefile
        self.infos._gamefile = gamefile  # reported as extra.gamefile

    def reset(self) -> Tuple[str, Dict[str, Any]]:
        return self.top.reset()

    def step(self, command: str) -> Tuple[str, float, bool, Dict[str, Any]]:
        return self.top.step(command)

    def replan(self) -> List[str]:
        return list(self.pddl._pddl_state.replan(self.pddl._entity_infos))

    def close(self) -> None:
        # fast-downward's library copy stays loaded: dlclose-ing it (fast_downward.close_lib) while
        # the process goes on crashed it here (SIGSEGV), and an environment lives as long as its actor.
        self.top.close()


def load_game_data(gamefile: str) -> Dict[str, Any]:
    """The game JSON, with the package's domain/grammar filled in where the file has none."""
    try:
        with open(gamefile, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        raise FileNotFoundError(f"ALFWorld game file {gamefile} does not exist; re-run discovery on the data root") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"ALFWorld game file {gamefile} is not valid JSON ({e.msg} at line {e.lineno})") from None
    if "pddl_problem" not in data:
        raise ValueError(f"ALFWorld game file {gamefile} has no 'pddl_problem'; it is not a game.tw-pddl file")
    if "pddl_domain" not in data or "grammar" not in data:
        _unset_empty_data_var()
        from alfworld.info import ALFRED_PDDL_PATH, ALFRED_TWL2_PATH

        with open(ALFRED_PDDL_PATH, encoding="utf-8") as f:
            data.setdefault("pddl_domain", f.read())
        with open(ALFRED_TWL2_PATH, encoding="utf-8") as f:
            data.setdefault("grammar", f.read())
    return data


class AlfworldEnv(TextEnv):
    """A ``TextEnv`` over ALFWorld game files (task payload: ``{"gamefile": path}``)."""

    def __init__(self, speedups: bool = True, replan: bool = False):
        self.speedups = bool(speedups)
        self.replan = bool(replan)
        if self.speedups:
            _speedups.enable_speedups()
        elif _speedups.speedups_enabled():
            logger.warning("env.alfworld.speedups=False: removing the engine caches from this process")
            _speedups.disable_speedups()
        self._engine = Engine()
        self._gamefile: Optional[str] = None
        self._task: Optional[TaskSpec] = None
        self._plan: List[str] = []  # the walkthrough, or the latest replan
        self._plan_pos = 0
        self._on_plan = True
        self._admissible: List[str] = []  # the engine's admissible commands before the next step
        self.last_reset_s = 0.0

    # ------------------------------------------------------------------------------ episode

    def reset(self, task: TaskSpec) -> Tuple[str, Dict[str, Any]]:
        gamefile = (task.payload or {}).get("gamefile")
        if not gamefile:
            raise ValueError(f"ALFWorld task {task.task_id!r} has no payload['gamefile']; build tasks with AlfworldFamily.tasks()")
        if self._engine is None:
            raise RuntimeError("AlfworldEnv.reset() called after close()")
        start = time.perf_counter()
        if not (self.speedups and gamefile == self._gamefile):
            self._gamefile = None  # a failed load must not leave a half-loaded game marked as loaded
            self._engine.load(gamefile, load_game_data(gamefile))
            self._gamefile = gamefile
        raw_obs, infos = self._engine.reset()
        self._admissible = list(infos.get("admissible_commands") or [])
        self.last_reset_s = time.perf_counter() - start
        self._task = task
        self._plan = list(infos.get("extra.walkthrough") or [])
        self._plan_pos, self._on_plan = 0, True
        obs = strip_banner(raw_obs)
        info = self._info(infos)
        info.update(task_description=task_description(obs), task_type=task.task_type or task_type_from_path(gamefile))
        return obs, info

    def step(self, action: str) -> StepResult:
        if self._gamefile is None or self._task is None:
            raise RuntimeError("AlfworldEnv.step() called before reset(task)")
        command = action if isinstance(action, str) else ""
        self._follow_plan(command.strip())
        obs, score, done, infos = self._engine.step(command)
        self._admissible = list(infos.get("admissible_commands") or [])
        info = self._info(infos)
        won = bool(info["won"])
        return StepResult(observation=obs, reward=WIN_REWARD if won else 0.0, done=bool(done), info=info)

    def close(self) -> None:
        engine, self._engine, self._gamefile = self._engine, None, None
        if engine is not None:
            engine.close()

    # -------------------------------------------------------------------------------- infos

    def _info(self, infos: Dict[str, Any]) -> Dict[str, Any]:
        admissible = [a for a in (infos.get("admissible_commands") or []) if a not in HIDDEN_COMMANDS]
        won = bool(infos.get("won"))
        plan = [] if won else self._expert_plan()
        return {
            "won": won,
            "admissible_actions": admissible,
            "score": float(infos.get("score") or 0.0),
            "gamefile": self._gamefile,
            "expert_plan": plan,
            "expert_action": plan[0] if plan else None,
        }

    def _follow_plan(self, command: str) -> None:
        if not self._on_plan or command not in self._admissible:
            return  # the engine ignores a command it does not list: the state, and so the plan, stay
        if self._plan_pos < len(self._plan) and command == self._plan[self._plan_pos]:
            self._plan_pos += 1
        else:
            self._on_plan = False

    def _expert_plan(self) -> List[str]:
        if not self._on_plan and self.replan:
            # Plan once from the state the departure led to, then follow that plan like a walkthrough.
            self._plan, self._plan_pos, self._on_plan = self._engine.replan(), 0, True
        if self._on_plan:
            return self._plan[self._plan_pos:]
        return []
