"""End to end: ``python -m skillrl.main_ppo`` as a user runs it (a subprocess, real Ray, real FSDP,
the tiny model), on real ALFWorld games with skills, vLLM-CPU and a loopback teacher, then resumed;
and a run (hf engine) killed with SIGKILL in the middle of writing a checkpoint, then resumed.
"""
from __future__ import annotations

import glob
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.support.openai_server import OpenAIServer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]

# Keys every training step's metrics must carry (success overall and per type are checked apart).
STEP_KEYS = [
    "episode/success_rate", "episode/length_mean", "episode/reward_mean", "response_length/mean",
    "episode/invalid_action_rate", "actor/kl", "actor/entropy", "actor/clip_frac", "actor/grad_norm",
    "skills/bank_size", "skills/prompt_tokens_mean", "timing/rollout", "timing/old_log_prob",
    "timing/ref_log_prob", "timing/reward", "timing/invalid_action_penalty", "timing/advantages",
    "timing/update_actor", "timing/weight_sync",
    "timing/step", "throughput/env_steps_per_s", "throughput/tokens_per_s", "actor/kl_to_ref",
]

SMALL = [
    "data.train_batch_size=1", "env.rollout.n=2", "env.max_steps=3", "data.max_response_length=24",
    "data.val_batch_size=2", "trainer.val_before_train=False", "trainer.progress_bar=False",
    "actor_rollout_ref.actor.ppo_mini_batch_size=8",
]


def _env(extra=None):
    # Ray runs its workers at nice 15; on a machine shared with other jobs that starves the
    # environment and model workers, so these runs ask for the driver's priority.
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1",
                RAY_worker_niceness="0", **(extra or {}))


def _main_ppo(args, env_extra=None, timeout=600):
    env = _env(env_extra)
    proc = subprocess.run([sys.executable, "-m", "skillrl.main_ppo", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"main_ppo failed (rc {proc.returncode}):\n{out[-6000:]}"
    return out


def _metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def _weights(model_dir):
    from safetensors.torch import load_file

    return load_file(os.path.join(model_dir, "model.safetensors"))


@pytest.mark.slow(seconds=100)
def test_alfworld_skills_train_evolve_checkpoint_resume(tmp_path, tiny_model_dir, alfworld_data_dir):
    run_dir = str(tmp_path / "run")
    with OpenAIServer() as teacher:
        args = [
            "env.env_name=alfworld/AlfredTWEnv", f"actor_rollout_ref.model.path={tiny_model_dir}",
            "data.train_files=dummy/train.parquet",  # the original recipes' placeholder: ignored with a warning
            *SMALL,
            "actor_rollout_ref.actor.use_kl_loss=True", "actor_rollout_ref.actor.kl_loss_type=low_var_kl",
            # The random tiny model never wins and every action is invalid, so GRPO advantages are 0;
            # the entropy bonus still gives a gradient, so the update has something to change.
            "actor_rollout_ref.actor.entropy_coeff=0.01", "actor_rollout_ref.actor.optim.lr=1e-3",
            "+env.use_skills_only_memory=True",
            "+env.skills_only_memory.skills_json_path=memory_data/alfworld/claude_style_skills.json",
            "+env.skills_only_memory.enable_dynamic_update=True", "+env.skills_only_memory.update_threshold=0.4",
            "+env.skills_only_memory.max_new_skills=3", "+env.skills_only_memory.teacher.model=loopback-teacher",
            f"+env.skills_only_memory.teacher.base_url={teacher.base_url}",
            "trainer.logger=['console','jsonl','tensorboard']", "trainer.save_freq=1",
            f"trainer.default_local_dir={run_dir}",
        ]
        out = _main_ppo([*args, "trainer.total_training_steps=2"], {"ALFWORLD_DATA": alfworld_data_dir})
        assert "data.train_files='dummy/train.parquet' has no effect here" in out
        assert teacher.requests, "validation failures should have been sent to the teacher"

        recs = _metrics(run_dir)
        assert [r["step"] for r in recs] == [1, 2]
        for key in STEP_KEYS:
            assert all(key in r for r in recs), f"{key} missing from the metrics"
        assert all(any(k.startswith("episode/success_rate/") for k in r) for r in recs)
        assert "val/success_rate" in recs[1] and any(k.startswith("val/success_rate/") for k in recs[1])
        assert recs[1]["skills/evolution_new_skills"] > 0
        assert recs[1]["skills/bank_size"] > recs[0]["skills/bank_size"]

        ckpt = os.path.join(run_dir, "global_step_2")
        assert os.listdir(os.path.join(ckpt, "actor"))
        bank = json.load(open(os.path.join(ckpt, "skills", "skills.json")))
        assert any(s["skill_id"].startswith("dyn_") for s in bank["general_skills"]) or any(
            s["skill_id"].startswith("dyn_") for v in bank.get("task_specific_skills", {}).values() for s in v)
        assert os.path.getsize(os.path.join(ckpt, "skills", "evolution_log.jsonl")) > 0
        assert json.load(open(os.path.join(ckpt, "trainer_state", "state.json")))["global_step"] == 2

        before, after = _weights(tiny_model_dir), _weights(os.path.join(run_dir, "hf_model"))
        assert before.keys() == after.keys()
        assert any(not torch.equal(before[k], after[k]) for k in before), "training did not change the weights"

        out = _main_ppo([*args, "trainer.total_training_steps=3"], {"ALFWORLD_DATA": alfworld_data_dir})
    assert f"resuming from {ckpt}" in out
    assert [r["step"] for r in _metrics(run_dir)] == [1, 2, 3]
    assert os.path.isdir(os.path.join(run_dir, "global_step_3"))
    state = json.load(open(os.path.join(run_dir, "global_step_3", "trainer_state", "state.json")))
    assert state["global_step"] == 3 and state["task_sampler"]["offset"] == 3  # 3 steps x 1 task


def _tail(path, lines=40):
    return "".join(open(path, encoding="utf-8", errors="replace").readlines()[-lines:])


def _wait_for(predicate, timeout, proc):
    end = time.time() + timeout
    while time.time() < end:
        found = predicate()
        if found:
            return found
        if proc.poll() is not None:
            return None
        time.sleep(0.002)
    return None


@pytest.mark.slow(seconds=90)
def test_kill_during_checkpoint_write_then_resume_then_a_fresh_start_beside_it(tmp_path, tiny_model_dir):
    """SIGSTOP the driver the moment step 2's temporary checkpoint appears, SIGKILL its process
    group, resume: the step-1 checkpoint loads and step 2 is played (and logged) once.

    That finished 2-step run is then the earlier run beside which ``resume_mode=disable`` starts
    afresh for 1 step in the same directory: the old run moves aside (before: retention pruned the
    new step 1 for the old step 2, the pointer named a missing checkpoint). Then a resume asked for
    1 step says there is nothing to train. (One test, so the runs are paid once.)"""
    run_dir = str(tmp_path / "run")
    # The transformers engine: the checkpoint path is under test here, and it starts ~10 s sooner than
    # vLLM (four runs); vLLM runs end to end in the ALFWorld test above.
    base = [f"actor_rollout_ref.model.path={tiny_model_dir}", *SMALL, "actor_rollout_ref.rollout.name=hf",
            "trainer.export_hf_model=False", f"trainer.default_local_dir={run_dir}"]
    args = [*base, "trainer.total_training_steps=2", "trainer.save_freq=1"]
    env = _env()
    log_path = tmp_path / "first_run.log"  # the run's output, quoted when it ends early
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "skillrl.main_ppo", *args], cwd=REPO, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    caught = False
    try:
        complete_1 = lambda: os.path.isfile(os.path.join(run_dir, "global_step_1", "checkpoint.json"))  # noqa: E731
        assert _wait_for(complete_1, 900, proc), f"the first checkpoint was never written:\n{_tail(log_path)}"
        tmp_2 = lambda: glob.glob(os.path.join(run_dir, "global_step_2.tmp-*"))  # noqa: E731
        assert _wait_for(tmp_2, 200, proc), f"the second checkpoint write was not seen:\n{_tail(log_path)}"
        os.killpg(proc.pid, signal.SIGSTOP)
        caught = bool(tmp_2()) and not os.path.exists(os.path.join(run_dir, "global_step_2"))
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        log.close()
    assert caught, "the process was not stopped in the middle of the checkpoint write"

    out = _main_ppo(args)
    assert f"resuming from {os.path.join(run_dir, 'global_step_1')}" in out
    assert [r["step"] for r in _metrics(run_dir)] == [1, 2]
    assert not glob.glob(os.path.join(run_dir, "*.tmp-*"))
    assert json.load(open(os.path.join(run_dir, "global_step_2", "checkpoint.json")))["step"] == 2

    # a fresh start beside the finished 2-step run
    fresh = [*base, "trainer.max_actor_ckpt_to_keep=1", "trainer.total_training_steps=1"]
    out = _main_ppo([*fresh, "trainer.resume_mode=disable"])
    (old,) = glob.glob(f"{run_dir}.old-*")
    assert f"the earlier run there was moved to {old}" in out
    assert [r["step"] for r in _metrics(old)] == [1, 2] and os.path.isdir(os.path.join(old, "global_step_2"))
    assert sorted(n for n in os.listdir(run_dir) if n.startswith("global_step")) == ["global_step_1"]
    assert json.load(open(os.path.join(run_dir, "latest_checkpointed_iteration.txt"))) == 1
    assert [r["step"] for r in _metrics(run_dir)] == [1]
    curves = os.path.join(run_dir, "curves.png")
    assert re.search(rf"curves \(PNG\) +{re.escape(curves)}\n", out) and os.path.getsize(curves) > 0
    assert re.search(rf"skill bank +{re.escape(os.path.join(run_dir, 'skills', 'skills.json'))}\n", out)
    assert os.listdir(os.path.join(run_dir, "tensorboard"))  # on by default

    start = time.time()
    out = _main_ppo(fresh)
    assert (f"Nothing to train: the checkpoint {os.path.join(run_dir, 'global_step_1')} is at step 1 and "
            "trainer.total_training_steps=1. To train more, set trainer.total_training_steps above 1") in out
    assert re.search(r"steps trained now +0\n", out) and time.time() - start < 60  # decided before Ray starts
    assert [r["step"] for r in _metrics(run_dir)] == [1]
