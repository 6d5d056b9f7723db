"""A tiny corpus and QA set written by the tests, and a BM25 retrieval server on loopback."""
from __future__ import annotations

import os

import pytest

from agent_system.environments.search.demo_data import write_demo_corpus, write_demo_qa


@pytest.fixture(scope="session")
def search_data_dir(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("search_data"))
    write_demo_corpus(os.path.join(root, "corpus.jsonl"))
    write_demo_qa(os.path.join(root, "qa"))
    return root


@pytest.fixture(scope="module")
def retrieval_url(search_data_dir):
    """A real HTTP server on 127.0.0.1 (a free port), BM25 over the tiny corpus."""
    from skillrl.retrieval.corpus import load_corpus
    from skillrl.retrieval.server import RetrievalServer, Retriever

    server = RetrievalServer(Retriever(load_corpus(os.path.join(search_data_dir, "corpus.jsonl"))), port=0)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture()
def search_env_cfg(search_data_dir, retrieval_url):
    from skillrl.config.schema import EnvConfig

    cfg = EnvConfig(env_name="search", max_steps=4)
    cfg.search.data_path = os.path.join(search_data_dir, "qa")
    cfg.search.retrieval_url = retrieval_url
    cfg.search.timeout_s = 2.0
    cfg.search.max_retries = 1
    return cfg


@pytest.fixture()
def search_family(search_env_cfg):
    from agent_system.environments.base import make_env_family

    return make_env_family(search_env_cfg)
