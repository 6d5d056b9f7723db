"""An exact expert for household tasks: a planner over the fully known world state.

``plan_actions(world)`` returns the command sequence that reaches the goal from the current
state (empty when already won). It simulates only what it needs (place, hand, open receptacles)
on local copies, so it never changes the world. Every step costs one command; among candidate
objects and receptacles it prefers those needing no walk and no opening, so plans are short
(at most 12 commands for ``pick_two_obj_and_place``, 8 for the others).
"""
from __future__ import annotations

from typing import List, Optional, Set

from agent_system.environments.household import catalog as C


class _Sim:
    """Where the agent is, what it holds and what is open, as the plan unfolds."""

    def __init__(self, world):
        self.w = world
        self.loc: Optional[str] = world.location
        self.held: Optional[str] = world.holding
        self.opened: Set[str] = set(world.opened)
        self.where = dict(world.where)
        self.out: List[str] = []

    def cost(self, r: str) -> int:
        return (r != self.loc) + (self.w.rtype[r] in C.OPENABLE and r not in self.opened)

    def go(self, r: str) -> None:
        if self.loc != r:
            self.out.append(f"go to {r}")
            self.loc = r

    def open_here(self) -> None:
        r = self.loc
        if self.w.rtype[r] in C.OPENABLE and r not in self.opened:
            self.out.append(f"open {r}")
            self.opened.add(r)

    def take(self, o: str) -> None:
        self.go(self.where[o])
        self.open_here()
        self.out.append(f"take {o} from {self.loc}")
        self.where[o], self.held = None, o

    def put(self, r: str) -> None:
        self.go(r)
        self.open_here()
        self.out.append(f"move {self.held} to {r}")
        self.where[self.held], self.held = r, None

    def drop_unless(self, keep) -> None:
        # Only reachable after a detour by a non-expert policy: the hand must be free first.
        if self.held is not None and not keep(self.held):
            self.put(self.loc)

    def best(self, candidates):
        return min(candidates, key=lambda x: (self.cost(x), x)) if candidates else None


def _receptacles_of(w, rtype) -> List[str]:
    return [r for r in w.receptacles if w.rtype[r] == rtype]


def plan_actions(world) -> List[str]:
    from agent_system.environments.household.engine import goal_reached

    if goal_reached(world):
        return []
    g = world.goal
    if g.task_type == "look_at_obj_in_light":
        return _plan_look(world)
    if g.task_type == "pick_two_obj_and_place":
        return _plan_two(world)
    return _plan_one(world)


def _plan_one(w) -> List[str]:
    g, s = w.goal, _Sim(w)
    flag = C.TREATMENT[g.task_type][0] if g.task_type in C.TREATMENT else None
    is_goal = lambda o: w.rtype[o] == g.obj  # noqa: E731
    s.drop_unless(is_goal)
    if s.held is None:
        objs = [o for o, r in s.where.items() if r is not None and is_goal(o)]
        s.take(min(objs, key=lambda o: (s.cost(s.where[o]), o)))
    if flag is not None and s.held not in getattr(w, flag):
        verb, devices = C.TREATMENT[g.task_type][1], C.TREATMENT[g.task_type][2]
        device = s.best([r for r in w.receptacles if w.rtype[r] in devices])
        s.go(device)
        s.out.append(f"{verb} {s.held} with {device}")
    s.put(s.best(_receptacles_of(w, g.recep)))
    return s.out


def _plan_two(w) -> List[str]:
    g, s = w.goal, _Sim(w)
    is_goal = lambda o: w.rtype[o] == g.obj  # noqa: E731
    targets = _receptacles_of(w, g.recep)
    inside = {r: sum(1 for o in w.contents[r] if is_goal(o)) for r in targets}
    target = min(targets, key=lambda r: (-inside[r], s.cost(r), r))
    need = 2 - inside[target]
    s.drop_unless(is_goal)
    if s.held is not None:
        s.put(target)
        need -= 1
    for _ in range(need):
        objs = [o for o, r in s.where.items() if r is not None and r != target and is_goal(o)]
        s.take(min(objs, key=lambda o: (s.cost(s.where[o]), o)))
        s.put(target)
    return s.out


def _plan_look(w) -> List[str]:
    g, s = w.goal, _Sim(w)
    is_goal = lambda o: w.rtype[o] == g.obj  # noqa: E731
    s.drop_unless(is_goal)
    if s.held is None:
        objs = [o for o, r in s.where.items() if r is not None and is_goal(o)]
        s.take(min(objs, key=lambda o: (s.cost(s.where[o]), o)))
    lamps = sorted((o for o, r in s.where.items() if r is not None and w.rtype[o] == g.toggle),
                   key=lambda o: (o not in w.lit, s.where[o] != s.loc, o))
    lamp = lamps[0]
    s.go(s.where[lamp])
    if lamp not in w.lit:
        s.out.append(f"use {lamp}")
    return s.out
