"""The prompt-token benchmark on the household environment: one row per memory and turn, and the
ratio rows (well-formed, positive; the numbers themselves are not asserted)."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_rows_for_each_memory_and_turn_and_the_ratios(skillrl_reference):
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "prompt_tokens_skills_vs_memory.py"), "--env", "household",
           "--per_type", "1", "--later_step", "1", "--raw_thresholds", "0.0"]
    env = dict(os.environ, SKILLRL_SHARED_DATA=str(skillrl_reference.parent))
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    tokens = {(r["memory"], r["turn"]): r for r in rows if r["bench"] == "prompt_tokens"}
    assert set(tokens) == {(m, t) for m in ("skills", "none", "raw@0") for t in ("first", "later")}
    for (memory, _), r in tokens.items():
        assert r["prompts"] > 0 and r["tokens_min"] <= r["tokens_mean"] <= r["tokens_max"]
        assert (r["block_tokens_mean"] > 0) == (memory != "none")
        assert r["tokens_mean"] > tokens[("none", r["turn"])]["tokens_mean"] or memory == "none"
    ratios = [r for r in rows if r["bench"] == "ratio"]
    assert [(r["raw"], r["turn"]) for r in ratios] == [("raw@0", "first"), ("raw@0", "later")]
    assert all(r["block_skills_over_raw"] > 0 and r["added_skills_over_raw"] > 0 for r in ratios)
