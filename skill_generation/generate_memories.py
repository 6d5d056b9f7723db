"""Turn the project's trajectories (JSONL of agent_system.trajectory records) into memories.

    python skill_generation/generate_memories.py --trajectories_path outputs/collect/trajectories.jsonl \\
        --output_path memories.json --model gpt-4o [--base_url ...]

Each trajectory goes to the teacher once; the answer (a summary, the steps that mattered, the plan
and, for failures, the mistakes) is written in the original SkillRL memory format, which the bank
builders (``alfworld.py``, ``webshop.py``, ``search.py``) read. The output is rewritten atomically
after every memory and ids are derived from the trajectory, so a rerun skips what is done and a
teacher failure on one trajectory costs only that trajectory.

Departure from the original: the original distilled memories from its own rollout logs with
separate per-environment scripts; this tool reads the project's trajectory records for any
environment and uses the project's own prompt.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from agent_system.trajectory import Trajectory, read_jsonl  # noqa: E402
from skill_generation.common import _progress, add_teacher_args, setup_logging, teacher_from_args  # noqa: E402
from skillrl.skills.bank import write_json_atomic  # noqa: E402
from skillrl.skills.evolution import format_episode  # noqa: E402

logger = logging.getLogger("skill_generation")

SYSTEM = ("You review one episode of an AI agent acting in a text environment and write a compact memory of it "
          "for later training. Replace specific object instances with placeholders such as [Object] or "
          "[Location] in plans and mistakes. Answer with JSON only.")
SHAPE = ('{"contextual_description": "two sentences: the task and how it went", '
         '"refined_trajectory": [{"step_index": 0, "action": "...", "critical_observation": "...", '
         '"reasoning": "..."}], '
         '"strategic_guidelines": {"planning_pattern": "Step -> Step -> Step", '
         '"mistakes_to_avoid": [{"trigger_condition": "...", "bad_action": "..."}]}}')


def memory_id(t: Trajectory) -> str:
    actions = "|".join(s.action for s in t.steps)
    digest = hashlib.sha1(f"{t.task_id}\n{t.task}\n{actions}\n{t.won}".encode("utf-8")).hexdigest()[:10]
    return f"mem_{(t.env_name or 'env').split('/')[0]}_{digest}"


def memory_prompt(t: Trajectory, budget_tokens: int) -> List[Dict[str, str]]:
    user = (f"Environment: {t.env_name or 'unknown'}\n{format_episode(t, budget_tokens)}\n\n"
            "Keep only the steps that mattered in refined_trajectory (at most 12). For a success, give the plan "
            "that worked and an empty mistakes_to_avoid; for a failure, give the mistakes that caused it and set "
            "planning_pattern to null.\n"
            f"Reply with JSON only, shaped like: {SHAPE}")
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def to_memory(t: Trajectory, reply: Any) -> Dict[str, Any]:
    """The original memory format, built from the teacher's answer (validated)."""
    if not isinstance(reply, dict):
        raise ValueError("the teacher's answer is not a JSON object")
    desc = " ".join(str(reply.get("contextual_description", "")).split())
    steps = reply.get("refined_trajectory")
    guide = reply.get("strategic_guidelines") or {}
    if not desc or not isinstance(steps, list) or not isinstance(guide, dict):
        raise ValueError("the teacher's answer needs contextual_description, a refined_trajectory list and a "
                         "strategic_guidelines object")
    keep = ("step_index", "action", "critical_observation", "reasoning")
    steps = [{k: s.get(k) for k in keep if k in s} for s in steps if isinstance(s, dict) and s.get("action")]
    mistakes = [{"trigger_condition": str(m.get("trigger_condition", "")), "bad_action": str(m.get("bad_action", ""))}
                for m in guide.get("mistakes_to_avoid") or [] if isinstance(m, dict)]
    env = (t.env_name or "unknown").split("/")[0]
    return {
        "memory_id": memory_id(t),
        "contextual_description": desc,
        "tags": {"environment": env, "outcome": "Success" if t.won else "Failure", "task_type": t.task_type},
        "content": {
            "task_meta": {"original_goal": t.task, "task_type": t.task_type},
            "refined_trajectory": {"refined_trajectory": steps},
            "strategic_guidelines": {"planning_pattern": guide.get("planning_pattern") if t.won else None,
                                     "mistakes_to_avoid": mistakes},
        },
        "origin_env_id": t.task_id,
    }


def _select(trajs: List[Trajectory], which: str, limit: Optional[int]) -> List[Trajectory]:
    if which != "all":
        trajs = [t for t in trajs if t.won == (which == "success")]
    return trajs[:limit] if limit is not None else trajs


def generate(trajs: Sequence[Trajectory], output_path: str, teacher: Any, budget_tokens: int) -> Dict[str, int]:
    existing: List[Dict[str, Any]] = []
    if os.path.exists(output_path):
        with open(output_path, encoding="utf-8") as f:
            existing = json.load(f)
        if not isinstance(existing, list):
            raise ValueError(f"{output_path}: exists and is not a JSON array of memories; choose another --output_path")
    done = {m.get("memory_id") for m in existing}
    stats = {"written": 0, "skipped_existing": 0, "failed": 0}
    for t in _progress(list(trajs), "distilling memories", unit="trajectory"):
        if memory_id(t) in done:
            stats["skipped_existing"] += 1
            continue
        try:
            mem = to_memory(t, teacher.chat_json(memory_prompt(t, budget_tokens)))
        except Exception as e:  # keep going: the others are still worth having
            logger.error("trajectory %s (%s) failed: %s", t.task_id, t.task, e)
            stats["failed"] += 1
            continue
        existing.append(mem)
        done.add(mem["memory_id"])
        write_json_atomic(output_path, existing)
        stats["written"] += 1
    return stats


def main(argv: Optional[Sequence[str]] = None, teacher: Any = None) -> int:
    p = argparse.ArgumentParser(description="Distil trajectories (JSONL) into memories with a teacher model.")
    p.add_argument("--trajectories_path", required=True, help="trajectories JSONL (python -m skillrl.collect)")
    p.add_argument("--output_path", required=True, help="memories JSON to write (appended to when it exists)")
    p.add_argument("--outcome", choices=("all", "success", "failure"), default="all")
    p.add_argument("--max_trajectories", type=int, default=None)
    p.add_argument("--token_budget", type=int, default=3000, help="approximate tokens (chars/4) of one episode")
    p.add_argument("--log_level", default="INFO")
    add_teacher_args(p)
    args = p.parse_args(argv)
    setup_logging(args.log_level)
    try:
        trajs = _select(list(read_jsonl(args.trajectories_path)), args.outcome, args.max_trajectories)
        stats = generate(trajs, args.output_path, teacher or teacher_from_args(args), args.token_budget)
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"output_path": args.output_path, **stats}))
    if stats["failed"]:
        print(f"error: {stats['failed']} trajectories failed; run the same command again to retry them",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
