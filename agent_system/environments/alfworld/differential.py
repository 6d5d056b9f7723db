"""Record seeded random episodes on ALFWorld games, to compare the engine with and without speed-ups.

``record_episodes`` plays each game with actions drawn uniformly from the admissible actions by a
generator seeded from ``(seed, game index)``, with a few malformed commands mixed in, and records
everything the engine says (observations, admissible actions, scores, won/done flags, expert
plans). Two runs that agree on every record played the same games the same way.

Run as ``python -m agent_system.environments.alfworld.differential --speedups 0 --out stock.json
GAME...`` to record in a fresh process (the honest way to get the stock engine: nothing patched
was ever imported there).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from agent_system.environments.base import TaskSpec

# Commands a model might produce that are not admissible; the engine must answer "Nothing happens."
MALFORMED = ("", "blah blah", "go to the moon", "take", "Look", "put apple 1 in/on fridge 1", "examine")
MALFORMED_EVERY = 6


def _choose(rng: random.Random, step: int, admissible: Sequence[str]) -> str:
    if step % MALFORMED_EVERY == MALFORMED_EVERY - 1:
        return MALFORMED[rng.randrange(len(MALFORMED))]
    return rng.choice(list(admissible)) if admissible else "look"


def _record(obs: str, reward: float, done: bool, info: Dict[str, Any], action: Optional[str]) -> Dict[str, Any]:
    return {
        "action": action,
        "observation": obs,
        "admissible_actions": list(info["admissible_actions"]),
        "score": info["score"],
        "reward": reward,
        "won": bool(info["won"]),
        "done": bool(done),
        "expert_plan": list(info.get("expert_plan") or []),
    }


def play_one(env: Any, task: TaskSpec, seed: int, num_steps: int, repeats: int = 1) -> Dict[str, Any]:
    """Play ``task`` ``repeats`` times with the same seeded action stream; records and timings."""
    episodes: List[List[Dict[str, Any]]] = []
    reset_s, step_s, steps = [], 0.0, 0
    for _ in range(repeats):
        rng = random.Random(seed)
        start = time.perf_counter()
        obs, info = env.reset(task)
        reset_s.append(time.perf_counter() - start)
        records = [_record(obs, 0.0, False, info, None)]
        records[0]["task_description"] = info["task_description"]
        for t in range(num_steps):
            action = _choose(rng, t, info["admissible_actions"])
            start = time.perf_counter()
            result = env.step(action)
            step_s += time.perf_counter() - start
            steps += 1
            info = result.info
            records.append(_record(result.observation, result.reward, result.done, info, action))
            if result.done:
                break
        episodes.append(records)
    return {"task_id": task.task_id, "task_type": task.task_type, "episodes": episodes,
            "reset_s": reset_s, "step_s": step_s, "steps": steps}


def record_episodes(
    tasks: Sequence[TaskSpec], speedups: bool, seed: int = 0, num_steps: int = 20, repeats: int = 1
) -> List[Dict[str, Any]]:
    from agent_system.environments.alfworld.env import AlfworldEnv

    env = AlfworldEnv(speedups=speedups)
    try:
        return [play_one(env, task, seed * 100003 + i, num_steps, repeats) for i, task in enumerate(tasks)]
    finally:
        env.close()


def first_difference(reference: List[Dict[str, Any]], candidate: List[Dict[str, Any]]) -> Optional[str]:
    """A readable description of the first record where two runs differ, or None.

    Every episode of a candidate game is compared with the reference's episode of the same index
    (or its last one: a reference played once stands for all replays of the same seed).
    """
    if [g["task_id"] for g in reference] != [g["task_id"] for g in candidate]:
        return "the two runs played different games"
    for ref, cand in zip(reference, candidate):
        for e, episode in enumerate(cand["episodes"]):
            expected = ref["episodes"][min(e, len(ref["episodes"]) - 1)]
            for i, (ra, rb) in enumerate(zip(expected, episode)):
                for key in ra:
                    if ra[key] != rb.get(key):
                        return (f"{ref['task_id']} episode {e} step {i} ({ra['action']!r}): {key} differs:\n"
                                f"  {ra[key]!r}\n  {rb.get(key)!r}")
            if len(expected) != len(episode):
                return f"{ref['task_id']} episode {e}: {len(expected)} vs {len(episode)} records"
    return None


def _main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("games", nargs="+", help="game.tw-pddl files")
    p.add_argument("--speedups", type=int, choices=(0, 1), required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    from agent_system.environments.alfworld.games import task_type_from_path

    tasks = [TaskSpec(task_id=g, split="", task_type=task_type_from_path(g) or "", payload={"gamefile": g})
             for g in args.games]
    records = record_episodes(tasks, bool(args.speedups), args.seed, args.steps, args.repeats)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(records, f)
    return 0


if __name__ == "__main__":
    sys.exit(_main())
