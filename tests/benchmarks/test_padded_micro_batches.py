"""The padded micro-batch benchmark runs and prints well-formed JSON (its timings are not asserted)."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_rows_and_summary_are_json_lines():
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "padded_micro_batches.py"), "--rows", "4", "--micro", "2",
           "--repeats", "1", "--shared", "300"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    runs = [r for r in rows if r["bench"] == "padded_forward_backward"]
    plans = ("full_width", "sorted_trimmed", "sorted_trimmed_shared_prefix")
    assert sorted(r["plan"] for r in runs) == list(plans)
    full, trimmed, shared = (next(r for r in runs if r["plan"] == p) for p in plans)
    # the trimmed plan never computes more padded tokens, and never fewer than the real ones
    assert full["real_tokens"] <= trimmed["padded_tokens"] <= full["padded_tokens"]
    # each micro-batch of 2 runs its 300 shared tokens once instead of twice
    assert shared["padded_tokens"] == trimmed["padded_tokens"] - 2 * 300
    summary = rows[-1]
    assert summary["bench"] == "padded_summary" and 0 < summary["trimmed_tokens_ratio"] <= 1
    assert 0 < summary["shared_prefix_tokens_ratio"] < summary["trimmed_tokens_ratio"]
    assert summary["trimmed_time_ratio"] > 0 and summary["shared_prefix_time_ratio"] > 0
