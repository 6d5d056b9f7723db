"""The household environment: ALFWorld's text interface over a pure-Python state machine.

Matching ALFWorld (alfworld 0.4.2 with its TextWorld engine), checked against real games:

* the same command grammar and the same admissible-command list, sorted as plain strings
  (``go to X``, ``take O from R``, ``move O to R``, ``open R``, ``close R``, ``heat/cool/clean O
  with R``, ``use L``, ``examine X``, ``inventory``, ``look``, ``help``); a command that is not
  admissible changes nothing and answers ``Nothing happens.``;
* the same sentences ("You arrive at countertop 1. On the countertop 1, you see a apple 1, and a
  mug 2.", "The fridge 1 is closed.", "You pick up the ...", "You move the ... to the ...") and
  ordering (by type, then the higher instance number first);
* the same rules: one object in hand; closed receptacles hide their contents and refuse
  take/move; heating, cooling and cleaning work on the held object at a microwave, fridge or basin
  (open or closed); a desk lamp, once used, stays on; ``look_at_obj_in_light`` is won while the
  goal object is held at the place of a lit lamp.

Departures: no slicing, no stacked receptacles (mugs and bowls never contain things), every
receptacle is its own place, and the first observation has no TextWorld banner. Reward is
10 x won, as in SkillRL's ALFWorld setup; an episode ends when won or after ``max_steps`` steps.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, List, Optional, Tuple

from agent_system.environments.base import StepResult, TaskSpec, TextEnv
from agent_system.environments.household import catalog as C
from agent_system.environments.household.expert import plan_actions, search_action
from agent_system.environments.household.world import World, generate_world, goal_reached

WIN_REWARD = 10.0
# oracle: the planner over the true state; search: acts only on what the agent has seen (expert.py).
EXPERTS = ("oracle", "search")
NOTHING = "Nothing happens."
HELP_TEXT = (
    "Commands you can use:\n"
    "  look: describe where you are\n"
    "  inventory: list what you hold\n"
    "  go to (receptacle): walk to a receptacle\n"
    "  open (receptacle) / close (receptacle)\n"
    "  take (object) from (receptacle): pick an object up\n"
    "  move (object) to (receptacle): put the held object in or on a receptacle\n"
    "  examine (receptacle or held object)\n"
    "  use (object): switch a lamp on\n"
    "  heat / cool / clean (object) with (receptacle)\n"
)


@lru_cache(maxsize=4096)
def _sort_key(name: str) -> Tuple[str, int]:
    kind, _, num = name.rpartition(" ")
    return kind, -int(num)


def _listing(names: List[str]) -> str:
    if not names:
        return "nothing"
    items = ["a " + n for n in sorted(names, key=_sort_key)]
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


def _describe_receptacle(w: World, r: str) -> str:
    if w.rtype[r] in C.OPENABLE:
        if r not in w.opened:
            return f"The {r} is closed."
        return f"The {r} is open. In it, you see {_listing(w.contents[r])}."
    return f"On the {r}, you see {_listing(w.contents[r])}."


def _describe_object(w: World, o: str) -> str:
    if w.rtype[o] in C.CONTAINER_OBJECTS:
        return f"This is a normal {o}. In it, you see nothing."
    clean, hot, cool = o in w.clean, o in w.hot, o in w.cool
    if clean and hot:
        return f"This is a hot and clean {o}."
    if clean and cool:
        return f"This is a cool and clean {o}."
    if hot:
        return f"This is a hot {o}."
    if clean:
        return f"This is a clean {o}."
    if cool:
        return f"This is a cold {o}."
    return f"There's nothing special about {o}."


def describe_room(w: World) -> str:
    if w.location is None:
        return f"You are in the middle of a room. Looking quickly around you, you see {_listing(w.receptacles)}."
    return f"You are facing the {w.location}. Next to it, you see nothing."


def admissible_commands(w: World) -> Dict[str, Tuple[str, str, str]]:
    """command -> (verb, first argument, second argument) for every command that does something."""
    cmds: Dict[str, Tuple[str, str, str]] = {"help": ("help", "", ""), "inventory": ("inventory", "", ""),
                                             "look": ("look", "", "")}
    for r in w.receptacles:
        if r != w.location:
            cmds["go to " + r] = ("goto", r, "")
    r, held = w.location, w.holding
    if held is not None:
        cmds["examine " + held] = ("examine_obj", held, "")
    if r is None:
        return cmds
    rt = w.rtype[r]
    cmds["examine " + r] = ("examine_rec", r, "")
    if rt in C.OPENABLE:
        cmds[("close " if r in w.opened else "open ") + r] = ("close" if r in w.opened else "open", r, "")
    if w.accessible(r):
        for o in w.contents[r]:
            ot = w.rtype[o]
            if ot in C.LAMPS:
                cmds["use " + o] = ("use", o, "")
            elif held is None:
                cmds[f"take {o} from {r}"] = ("take", o, r)
        if held is not None:
            cmds[f"move {held} to {r}"] = ("move", held, r)
    if held is not None:
        for devices, verb in ((C.HEATERS, "heat"), (C.COOLERS, "cool"), (C.CLEANERS, "clean")):
            if rt in devices:
                cmds[f"{verb} {held} with {r}"] = (verb, held, r)
    return cmds


_FLAG = {"heat": ("hot", "You heat the {o} using the {r}."), "cool": ("cool", "You cool the {o} using the {r}."),
         "clean": ("clean", "You clean the {o} using the {r}.")}


def apply_command(w: World, verb: str, a: str, b: str) -> str:
    """Change the world for one admissible command and return ALFWorld's feedback sentence."""
    if verb == "goto":
        w.location = a
        return f"You arrive at {a}. {_describe_receptacle(w, a)}"
    if verb == "take":
        w.contents[b].remove(a)
        w.where[a], w.holding = None, a
        return f"You pick up the {a} from the {b}."
    if verb == "move":
        w.contents[b].append(a)
        w.where[a], w.holding = b, None
        return f"You move the {a} to the {b}."
    if verb == "open":
        w.opened.add(a)
        return f"You open the {a}. {_describe_receptacle(w, a)}"
    if verb == "close":
        w.opened.discard(a)
        return f"You close the {a}."
    if verb in _FLAG:
        flag, text = _FLAG[verb]
        getattr(w, flag).add(a)
        return text.format(o=a, r=b)
    if verb == "use":
        w.lit.add(a)
        return f"You turn on the {a}."
    if verb == "examine_rec":
        return _describe_receptacle(w, a)
    if verb == "examine_obj":
        return _describe_object(w, a)
    if verb == "inventory":
        return f"You are carrying: a {w.holding}." if w.holding else "You are not carrying anything."
    if verb == "look":
        return describe_room(w)
    return HELP_TEXT


class HouseholdEnv(TextEnv):
    """One household episode at a time; reset to any household TaskSpec."""

    def __init__(self, max_steps: int = 50, default_size: int = 1, expert: str = "oracle"):
        if expert not in EXPERTS:
            raise ValueError(f"env.household.expert={expert!r}; use one of {EXPERTS}")
        self.max_steps = int(max_steps)
        self.default_size = int(default_size)
        self.expert = expert
        self._seen: set = set()  # receptacles whose contents the agent has seen (the searcher's memory)
        self.world: Optional[World] = None
        self._cmds: Dict[str, Tuple[str, str, str]] = {}
        self._sorted_cmds: List[str] = []
        self._plan: List[str] = []
        # This episode's work per world state: random play revisits states often, and the
        # command table and the oracle plan depend only on the state (_state_key).
        self._remember = True
        self._key: tuple = ()
        self._tables: Dict[tuple, Tuple[Dict[str, Tuple[str, str, str]], List[str]]] = {}
        self._plans: Dict[tuple, List[str]] = {}
        self._steps = 0
        self._won = False

    def reset(self, task: TaskSpec) -> Tuple[str, Dict[str, Any]]:
        p = task.payload or {}
        if "seed" not in p:
            raise ValueError(f"household task {task.task_id!r} has no payload['seed']; build tasks with "
                             "HouseholdFamily.tasks(split)")
        self.world = generate_world(int(p["seed"]), int(p.get("size", self.default_size)), task.task_type)
        self._steps, self._won = 0, False
        self._tables, self._plans = {}, {}
        self._new_state()
        self._plan = self._oracle_plan() if self.expert == "oracle" else []
        self._seen = set()
        obs = f"{describe_room(self.world)}\n\nYour task is to: {self.world.goal.description}."
        return obs, self._info()

    def step(self, action: str) -> StepResult:
        w = self.world
        if w is None:
            raise RuntimeError("HouseholdEnv.step called before reset")
        command = " ".join(str(action).lower().split())
        found = self._cmds.get(command)
        obs = apply_command(w, *found) if found else NOTHING
        self._steps += 1
        if found:
            if w.location is not None and w.accessible(w.location):
                self._seen.add(w.location)
            self._new_state()
            self._won = goal_reached(w)
        self._advance_plan(command if found else None)
        done = self._won or self._steps >= self.max_steps
        info = self._info()
        info["truncated"] = done and not self._won
        return StepResult(observation=obs, reward=WIN_REWARD if self._won else 0.0, done=done, info=info)

    def _advance_plan(self, command: Optional[str]) -> None:
        if command is None or self.expert != "oracle":
            return  # nothing changed: the plan still holds
        if self._plan and self._plan[0] == command:
            self._plan.pop(0)
        else:
            self._plan = self._oracle_plan()

    def _new_state(self) -> None:
        """The world changed: its command table, from this episode's memory when seen before."""
        w = self.world
        if not self._remember:
            self._cmds = admissible_commands(w)
            self._sorted_cmds = sorted(self._cmds)
            return
        self._key = (w.location, w.holding, frozenset(w.where.items()), frozenset(w.opened), frozenset(w.clean),
                     frozenset(w.hot), frozenset(w.cool), frozenset(w.lit))
        table = self._tables.get(self._key)
        if table is None:
            cmds = admissible_commands(w)
            table = self._tables[self._key] = (cmds, sorted(cmds))
        self._cmds, self._sorted_cmds = table

    def _oracle_plan(self) -> List[str]:
        # A policy off the plan replans every step (that was ~70% of a step's time).
        if not self._remember:
            return plan_actions(self.world)
        plan = self._plans.get(self._key)
        if plan is None:
            plan = self._plans[self._key] = plan_actions(self.world)
        return list(plan)  # _advance_plan pops from its copy

    def _expert(self) -> Tuple[Optional[str], str]:
        if self.expert == "search":
            return search_action(self.world, self._seen)
        action = None if self._won or not self._plan else self._plan[0]
        return action, f"Following the known solution, the next step is: {action}."

    def _info(self) -> Dict[str, Any]:
        w = self.world
        action, thought = self._expert()
        return {
            "won": self._won,
            "admissible_actions": list(self._sorted_cmds),
            "task_description": w.goal.description,
            "task_type": w.goal.task_type,
            "expert_action": action,
            "expert_thought": thought,
            "step": self._steps,
        }
