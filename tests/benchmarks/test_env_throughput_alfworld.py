"""The ALFWorld rows of the throughput benchmark: stock and sped-up rows plus their comparison line
(well-formed JSON with positive numbers; the numbers themselves are not asserted)."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_alfworld_stock_and_fast_rows_and_comparison(alfworld_data_dir):
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "env_throughput.py"), "--env", "alfworld_stock,alfworld",
           "--actors", "", "--episodes", "1", "--max_steps", "4", "--alfworld_data", alfworld_data_dir]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert [(r["env"], r.get("compare")) for r in rows] == [
        ("alfworld_stock", None), ("alfworld", None), ("alfworld", "alfworld_stock")]
    for r in rows[:2]:
        assert r["pool"] == "local" and r["actors"] == 1 and r["resets"] == 1 and r["steps"] == 4
        assert r["steps_per_s"] > 0 and r["step_steps_per_s"] > 0 and r["reset_s"] > 0
    ratio = rows[2]
    assert ratio["steps_per_s_ratio"] > 0 and ratio["step_steps_per_s_ratio"] > 0 and ratio["reset_speedup"] > 0
