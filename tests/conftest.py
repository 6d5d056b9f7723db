"""Fixtures shared by the whole suite: the tiny model, the shared data, a local Ray."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.support.openai_server import openai_server  # noqa: F401  (loopback OpenAI-compatible teacher)
from tests.support.ray_session import init_session_ray

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SKILLRL_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
SKILLRL_REFERENCE = SHARED_DATA / "skillrl-reference"

# Tests never reach a hub: everything they load is built here or shipped in a package.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
# Ray runs its workers at nice 15; beside other jobs that starves the session Ray's environment and
# model workers while the driver waits for them (the subprocess runs ask for the same).
os.environ.setdefault("RAY_worker_niceness", "0")
# ALFWorld translations are cached by game content (engine_cache.py): one folder for the whole run
# (Ray actors and subprocesses inherit it), outside the home directory; a game loaded by several
# tests is translated once. The differential test uses a fresh folder of its own.
os.environ.setdefault("SKILLRL_ALFWORLD_CACHE",
                      os.path.join(tempfile.gettempdir(), f"skillrl-tests-alfworld-engine-{os.getuid()}"))
# Under pytest-xdist (`make test` runs one worker per core) two test processes share the cores: one
# intra-op thread each, or torch's spinning OpenMP threads fight (the copy warm-up ran 4x slower).
# Subprocesses inherit it; Ray sets its workers' own count.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _expected_seconds(item) -> float:
    """``@pytest.mark.slow(seconds=N)``: about N s alone on the 2-core machine (20 when not said)."""
    mark = item.get_closest_marker("slow")
    return float(mark.kwargs.get("seconds", 20)) if mark else 0.0


def pytest_collection_modifyitems(config, items):
    # Longest first, so no worker is left with a long run at the end while the other waits; the rest
    # keep their order. `make test` hands out whole files in this order (--dist loadfile
    # --no-loadscope-reorder): a file's module fixtures (a Ray cluster, a model) are built once.
    items.sort(key=lambda item: -_expected_seconds(item))


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def skillrl_reference() -> Path:
    if not SKILLRL_REFERENCE.is_dir():
        pytest.skip(f"shared SkillRL reference data not found at {SKILLRL_REFERENCE}")
    return SKILLRL_REFERENCE


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """The project's tiny random Qwen2 model + tokenizer, built once per session (offline)."""
    from skillrl.utils.tiny_model import build_tiny_model

    out = tmp_path_factory.mktemp("tiny_model")
    build_tiny_model(str(out), seed=0)
    return str(out)


@pytest.fixture(scope="session")
def alfworld_data_dir(tmp_path_factory) -> str:
    """A directory holding json_2.1.1/<split>/... : $ALFWORLD_DATA if set, else unpacked from ../shared."""
    env = os.environ.get("ALFWORLD_DATA")
    if env and (Path(env) / "json_2.1.1").is_dir():
        return env
    archives = sorted((SHARED_DATA / "alfworld").glob("json_2.1.1-*.tar.xz"))
    if not archives:
        pytest.skip(f"ALFWorld games not found: set ALFWORLD_DATA or provide {SHARED_DATA / 'alfworld'}")
    out = tmp_path_factory.mktemp("alfworld")
    for a in archives:
        subprocess.run(["tar", "-xJf", str(a), "-C", str(out)], check=True)
    return str(out)


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray for the session; tests that need actors share it."""
    import ray

    init_session_ray()
    yield ray
    ray.shutdown()
