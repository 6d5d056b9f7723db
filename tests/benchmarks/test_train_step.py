"""The train-step benchmark runs one real CPU step and reports every phase and the framework
overhead as well-formed JSON (the numbers are measured, not asserted, except that they add up)."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow(seconds=25)
def test_one_step_reports_phases_and_overhead(tiny_model_dir):
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "train_step.py"), "--steps", "1", "--warmup", "0",
           f"actor_rollout_ref.model.path={tiny_model_dir}", "data.train_batch_size=1", "env.max_steps=2",
           "data.max_response_length=16",
           "actor_rollout_ref.rollout.name=hf"]  # the report's shape is under test; hf starts ~10 s sooner than vLLM
    env = dict(os.environ, HF_HUB_OFFLINE="1", RAY_worker_niceness="0")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert [r["bench"] for r in rows] == ["setup", "train_step", "train_step_summary"]
    step, summary = rows[1], rows[2]
    for phase in ("rollout", "old_log_prob", "ref_log_prob", "reward", "invalid_action_penalty", "advantages",
                  "update_actor", "weight_sync"):
        assert step[f"timing/{phase}"] >= 0 and phase in summary["phase_share"]
    assert step["samples"] == 4  # 1 task x 2 members x 2 turns
    parts = step["timing/rollout_generate"] + step["timing/rollout_env"] + step["timing/rollout_overhead"]
    assert abs(parts - step["timing/rollout"]) < 0.05 * step["timing/rollout"] + 0.01
    assert 0 <= summary["framework_overhead_frac"] < 1 and isinstance(summary["framework_overhead_ok"], bool)
    # the phases are parts of the step; each share is rounded to 4 decimals, so their sum may pass
    # 1 by up to half a unit of the last decimal per phase (it did: 1.0001 over 8 phases)
    shares = summary["phase_share"]
    assert 0 < sum(shares.values()) <= 1.0 + 0.5e-4 * len(shares) + 1e-9
