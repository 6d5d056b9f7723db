"""Skill retrieval cost: template vs embedding mode, and what the per-skill embedding cache saves.

    python benchmarks/skill_retrieval.py                       # the household bank, offline MiniLM
    python benchmarks/skill_retrieval.py --bank ../shared/data/skillrl-reference/alfworld_claude_style_skills.json

Prints one JSON object per line:

* ``{"bench": "retrieve", "mode", "calls", "us_per_call"}``: template mode, and embedding mode
  with every skill cached and a new query each call (the cost the environment manager pays per
  new task);
* ``{"bench": "bank_change", "skills", "full_s", "incremental_s", "texts_encoded"}``: after
  adding one skill, re-encoding the whole bank (what the original did: it dropped its cache)
  against this project's cache, which encodes only the new skill;
* ``{"bench": "ratio", ...}``: embedding over template per call, and full over incremental.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from agent_system.memory import SkillsOnlyMemory  # noqa: E402
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
    args = p.parse_args()
    encoder = load_sentence_encoder(default_embedding_model_path())
    template = SkillsOnlyMemory(args.bank)
    embedding = SkillsOnlyMemory(args.bank, retrieval_mode="embedding", encoder=encoder)
    t_us = bench_retrieve(template, args.calls, fresh_queries=False)
    _emit({"bench": "retrieve", "mode": "template", "calls": args.calls, "us_per_call": round(t_us, 1)})
    e_us = bench_retrieve(embedding, max(10, args.calls // 10), fresh_queries=True)
    _emit({"bench": "retrieve", "mode": "embedding", "calls": max(10, args.calls // 10), "us_per_call": round(e_us, 1)})
    change = bench_bank_change(args.bank, encoder)
    _emit(change)
    _emit({"bench": "ratio", "embedding_over_template_per_call": round(e_us / t_us, 1),
           "full_over_incremental_reencode": round(change["full_s"] / max(change["incremental_s"], 1e-9), 1)})


if __name__ == "__main__":
    main()
