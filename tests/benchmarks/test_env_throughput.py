"""The throughput benchmark runs and prints well-formed JSON rows (numbers are not asserted)."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_household_rows_are_json_lines():
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "env_throughput.py"), "--env", "household",
                           "--actors", "", "--seconds", "0.2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert len(rows) == 1
    row = rows[0]
    assert row["env"] == "household" and row["pool"] == "local" and row["actors"] == 1
    assert row["steps"] > 0 and row["steps_per_s"] > 0 and row["reset_s"] > 0


def test_unknown_target_is_refused():
    proc = subprocess.run([sys.executable, os.path.join(REPO, "benchmarks", "env_throughput.py"), "--env", "nope",
                           "--actors", ""], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "unknown target" in proc.stderr
