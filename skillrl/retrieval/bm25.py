"""A BM25 index over plain texts, built on the ``bm25s`` library.

Shared by the retrieval server and the WebShop search engine. WebShop's original engine is a
Lucene (pyserini) index; bm25s with English stop words and a Snowball stemmer is a close
pure-Python substitute, so rankings are similar but not identical to the Java engine's.
"""
from __future__ import annotations

import logging
from typing import List, Sequence, Tuple

logger = logging.getLogger(__name__)


def _stemmer():
    try:
        import Stemmer  # PyStemmer: optional, but rankings are much better with it
    except ImportError:
        logger.warning("PyStemmer is not installed; BM25 runs without stemming (pip install PyStemmer)")
        return None
    return Stemmer.Stemmer("english")


class BM25Index:
    """Index ``texts`` once; :meth:`search` returns (position in texts, score) pairs, best first."""

    def __init__(self, texts: Sequence[str], k1: float = 1.2, b: float = 0.75, show_progress: bool = False):
        import bm25s

        if len(texts) == 0:
            raise ValueError("BM25Index needs at least one text to index")
        self._bm25s = bm25s
        self._stem = _stemmer()
        self.size = len(texts)
        # k1=1.2/b=0.75 are Lucene's defaults, which WebShop's and Search-R1's BM25 used.
        self._index = bm25s.BM25(k1=k1, b=b, method="lucene")
        tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=self._stem, show_progress=show_progress)
        self._index.index(tokens, show_progress=show_progress)

    def search(self, query: str, k: int) -> List[Tuple[int, float]]:
        return self.search_batch([query], k)[0]

    def search_batch(self, queries: Sequence[str], k: int) -> List[List[Tuple[int, float]]]:
        k = max(1, min(int(k), self.size))
        tokens = self._bm25s.tokenize(
            [q or "" for q in queries], stopwords="en", stemmer=self._stem, show_progress=False,
            return_ids=False,
        )
        out: List[List[Tuple[int, float]]] = []
        for toks in tokens:
            if not self._known(toks):
                out.append([])  # nothing in the query occurs in the corpus
                continue
            ids, scores = self._index.retrieve([toks], k=k, show_progress=False, n_threads=1)
            out.append([(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if s > 0])
        return out

    def _known(self, toks: List[str]) -> bool:
        vocab = self._index.vocab_dict
        return any(t in vocab for t in toks)
