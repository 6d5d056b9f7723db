"""The rollout benchmark runs end to end (small settings) and prints well-formed JSON rows."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow(seconds=25)
def test_rollout_rows_are_json_lines(tiny_model_dir):
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "rollout_throughput.py"), "--model", tiny_model_dir,
           "--device", "cpu", "--engines", "hf", "--prompts", "4", "--max-tokens", "8", "--repeats", "1",
           "--ranks", "1", "--sync-repeats", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    gen = [r for r in rows if r["bench"] == "generate"]
    sync = [r for r in rows if r["bench"] == "weight_sync"]
    # hf once with one seed per batch and once with one seed per prompt (its row-by-row sampler)
    assert [(r["engine"], r["per_prompt_seeds"], r["prompts"]) for r in gen] == [("hf", False, 4), ("hf", True, 4)]
    assert all(0 < r["gen_tokens"] <= 4 * 8 and r["tokens_per_s"] > 0 for r in gen)
    ratio = [r for r in rows if r["bench"] == "ratio"]
    assert len(ratio) == 1 and ratio[0]["hf_per_prompt_seeds_over_batch_seed_tokens_per_s"] > 0
    assert len(sync) == 1 and sync[0]["sync_s"] > 0 and sync[0]["ranks"] == 1
