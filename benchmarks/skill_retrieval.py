"""Skill retrieval cost: template vs embedding mode, and what the per-skill embedding cache saves.

    python benchmarks/skill_retrieval.py                       # the household bank, offline MiniLM
    python benchmarks/skill_retrieval.py --bank ../shared/data/skillrl-reference/alfworld_claude_style_skills.json

Prints one JSON object per line:

* ``{"bench": "retrieve", "mode", "calls", "us_per_call"}``: template mode, and embedding mode
  with every skill cached and a new query each call (the cost the environment manager pays per
  new task);
* ``{"bench": "episode", "skills", "batch", "ms_per_episode_one_by_one", "ms_per_episode_batched"}``:
  embedding mode on a synthetic bank of ``--bank_size`` skills (default 1,000), a batch of
  ``--batch`` new task descriptions retrieved one query encoding at a time against
  ``prefetch`` (one encoding call for the batch, what the environment manager does at reset);
* ``{"bench": "bank_change", "skills", "full_s", "incremental_s", "texts_encoded"}``: after
  adding one skill, re-encoding the whole bank (what the original did: it dropped its cache)
  against this project's cache, which encodes only the new skill;
* ``{"bench": "ratio", ...}``: embedding over template per call, full over incremental, and
  one-by-one over batched per episode.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent_system.memory import SkillsOnlyMemory  # noqa: E402
from skillrl.skills.bank import SkillBank  # noqa: E402
from skillrl.skills.retrieval import EmbeddingIndex, default_embedding_model_path, load_sentence_encoder  # noqa: E402

GOALS = ["put a clean apple in fridge.", "examine the book with the desklamp.",
         "heat some egg and put it in garbagecan.",
         "put a cool mug in cabinet.", "find two pillow and put them in sofa.", "put some dishsponge on cart."]


def _emit(row: dict) -> None:
    print(json.dumps(row), flush=True)


def bench_retrieve(mem: SkillsOnlyMemory, calls: int, fresh_queries: bool) -> float:
    mem.retrieve(GOALS[0])  # warm-up: fills the skill cache in embedding mode
    t = time.perf_counter()
    for i in range(calls):
        goal = f"{GOALS[i % len(GOALS)]} (task {i})" if fresh_queries else GOALS[i % len(GOALS)]
        mem.retrieve(goal)
    return (time.perf_counter() - t) / calls * 1e6


WORDS = ("open close heat cool clean put take examine drawer fridge microwave sink desklamp apple mug egg "
         "cabinet shelf desk sofa pan knife towel soap first then before after always never check").split()


def synthetic_bank(size: int, seed: int = 0) -> SkillBank:
    """``size`` skills (a fifth general, the rest over five categories) of random household words."""
    rng = random.Random(seed)

    def skill(i: int, prefix: str) -> dict:
        text = lambda n: " ".join(rng.choice(WORDS) for _ in range(n))  # noqa: E731
        return {"skill_id": f"{prefix}_{i:04d}", "title": text(4), "principle": text(14), "when_to_apply": text(6)}

    cats = ["pick_and_place", "look_at_obj_in_light", "pick_clean_then_place", "pick_heat_then_place",
            "pick_cool_then_place"]
    n_gen = size // 5
    per_cat = (size - n_gen) // len(cats)
    return SkillBank.from_dict({"general_skills": [skill(i, "gen") for i in range(n_gen)],
                                "task_specific_skills": {c: [skill(i, c) for i in range(per_cat)] for c in cats},
                                "common_mistakes": []})


def bench_episode(encoder, size: int, batch: int) -> dict:
    """Per-episode retrieval cost with ``batch`` new tasks: one encoding each vs one per batch."""
    out = {"bench": "episode", "skills": 0, "batch": batch}
    index = EmbeddingIndex(encoder=encoder)  # both modes share the bank's vectors: encoded once, not timed
    for mode in ("one_by_one", "batched"):
        mem = SkillsOnlyMemory(bank=synthetic_bank(size), retrieval_mode="embedding", index=index)
        out["skills"] = sum(1 for _ in mem.bank.iter_skills())
        mem.retrieve("warm up: encode the bank")
        goals = [f"{GOALS[i % len(GOALS)]} ({mode} task {i})" for i in range(batch)]
        t = time.perf_counter()
        if mode == "batched":
            mem.prefetch(goals)
        for g in goals:
            mem.retrieve(g)
        out[f"ms_per_episode_{mode}"] = round((time.perf_counter() - t) / batch * 1e3, 3)
    return out


def bench_bank_change(bank_path: str, encoder) -> dict:
    mem = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", encoder=encoder)
    skills = [s for _, s in mem.bank.iter_skills()]
    mem.embedding_index.skill_matrix(skills)
    new = {"skill_id": "dyn_1_gen_1", "title": "Scan The Room First", "principle": "Read the whole room listing.",
           "when_to_apply": "At the start of an episode."}
    mem.add_skills([new])
    skills = [s for _, s in mem.bank.iter_skills()]
    before = mem.embedding_index.texts_encoded
    t = time.perf_counter()
    mem.embedding_index.skill_matrix(skills)
    incremental = time.perf_counter() - t
    encoded = mem.embedding_index.texts_encoded - before
    t = time.perf_counter()
    EmbeddingIndex(encoder=encoder).skill_matrix(skills)  # an empty cache: the whole bank again
    full = time.perf_counter() - t
    return {"bench": "bank_change", "skills": len(skills), "full_s": round(full, 4),
            "incremental_s": round(incremental, 4), "texts_encoded": encoded}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--bank", default=str(REPO / "memory_data/household/claude_style_skills.json"))
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--bank_size", type=int, default=1000, help="skills in the synthetic bank of the episode row")
    p.add_argument("--batch", type=int, default=64, help="new tasks per batch in the episode row")
    args = p.parse_args()
    encoder = load_sentence_encoder(default_embedding_model_path())
    template = SkillsOnlyMemory(args.bank)
    embedding = SkillsOnlyMemory(args.bank, retrieval_mode="embedding", encoder=encoder)
    t_us = bench_retrieve(template, args.calls, fresh_queries=False)
    _emit({"bench": "retrieve", "mode": "template", "calls": args.calls, "us_per_call": round(t_us, 1)})
    e_us = bench_retrieve(embedding, max(10, args.calls // 10), fresh_queries=True)
    _emit({"bench": "retrieve", "mode": "embedding", "calls": max(10, args.calls // 10), "us_per_call": round(e_us, 1)})
    episode = bench_episode(encoder, args.bank_size, args.batch)
    _emit(episode)
    change = bench_bank_change(args.bank, encoder)
    _emit(change)
    _emit({"bench": "ratio", "embedding_over_template_per_call": round(e_us / t_us, 1),
           "full_over_incremental_reencode": round(change["full_s"] / max(change["incremental_s"], 1e-9), 1),
           "one_by_one_over_batched_per_episode": round(episode["ms_per_episode_one_by_one"]
                                                        / max(episode["ms_per_episode_batched"], 1e-9), 1)})


if __name__ == "__main__":
    main()
