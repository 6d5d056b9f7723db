import json
import os
import random

import numpy as np
import pytest
import torch

from skillrl.trainer.checkpoint import (
    CheckpointManager, atomic_dir, load_trainer_state, read_manifest, resolve_checkpoint_path, save_trainer_state,
)


def _write_file(text):
    def write(path):
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, "f.txt"), "w") as f:
            f.write(text)
    return write


def test_save_find_prune(tmp_path):
    m = CheckpointManager(str(tmp_path), max_to_keep=2)
    assert m.latest() is None and m.resolve("auto") is None
    for step in (1, 2, 3):
        m.save(step, {"actor": _write_file(f"s{step}")}, meta={"note": step})
    names = sorted(os.listdir(tmp_path))
    assert "global_step_1" not in names and {"global_step_2", "global_step_3"} <= set(names)
    latest = m.latest()
    assert latest.endswith("global_step_3") and read_manifest(latest)["note"] == 3
    assert open(os.path.join(latest, "actor", "f.txt")).read() == "s3"
    assert json.load(open(tmp_path / "latest_checkpointed_iteration.txt")) == 3
    assert m.resolve("disable") is None
    assert resolve_checkpoint_path(str(tmp_path)) == latest
    assert resolve_checkpoint_path(m.step_dir(2)).endswith("global_step_2")
    with pytest.raises(FileNotFoundError, match="resume_mode"):
        m.resolve(str(tmp_path / "nope"))


def test_failed_save_keeps_previous(tmp_path):
    m = CheckpointManager(str(tmp_path))
    m.save(1, {"actor": _write_file("good")})

    def boom(path):
        os.makedirs(path)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        m.save(2, {"actor": _write_file("half"), "skills": boom})
    assert m.latest().endswith("global_step_1")
    assert sorted(os.listdir(tmp_path)) == ["global_step_1", "latest_checkpointed_iteration.txt"]


def test_recover_after_kill(tmp_path):
    m = CheckpointManager(str(tmp_path))
    m.save(1, {"actor": _write_file("good")})
    # what a kill -9 in the middle of writing step 2 leaves behind
    os.makedirs(tmp_path / "global_step_2.tmp-12345" / "actor")
    # and a checkpoint caught between the two renames of a re-save
    os.rename(tmp_path / "global_step_1", tmp_path / "global_step_1.stale-777")
    m2 = CheckpointManager(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == ["global_step_1", "latest_checkpointed_iteration.txt"]
    assert m2.latest().endswith("global_step_1")


def test_resave_same_step_replaces(tmp_path):
    m = CheckpointManager(str(tmp_path))
    m.save(1, {"a": _write_file("old")})
    m.save(1, {"a": _write_file("new")})
    assert open(tmp_path / "global_step_1" / "a" / "f.txt").read() == "new"
    with atomic_dir(str(tmp_path / "model")) as d:
        open(os.path.join(d, "x"), "w").close()
    assert os.path.exists(tmp_path / "model" / "x")


def test_trainer_state_roundtrip_restores_rng(tmp_path):
    random.seed(1); np.random.seed(1); torch.manual_seed(1)
    save_trainer_state(str(tmp_path / "ts"), 7, {"epoch": 0, "offset": 3})
    expect = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(2); np.random.seed(2); torch.manual_seed(2)
    state = load_trainer_state(str(tmp_path / "ts"))
    assert state["global_step"] == 7 and state["task_sampler"]["offset"] == 3
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expect
    with pytest.raises(FileNotFoundError, match="state.json"):
        load_trainer_state(str(tmp_path / "none"))
