"""Fixtures of the worker tests: a 2-rank gloo actor group on the tiny model (shared by the session)."""
from __future__ import annotations

import pytest

from tests.support.workers import cpu_trainer, worker_config


@pytest.fixture(scope="session")
def actor_group(ray_local, tiny_model_dir):
    from skillrl.workers.worker_group import RayWorkerGroup

    group = RayWorkerGroup(worker_config(tiny_model_dir), cpu_trainer(), role="actor_ref", name="test_actor")
    yield group
    group.shutdown()


@pytest.fixture(scope="session")
def tiny_vocab(tiny_model_dir) -> int:
    from transformers import AutoConfig

    return int(AutoConfig.from_pretrained(tiny_model_dir).vocab_size)
