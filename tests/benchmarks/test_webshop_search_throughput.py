"""The WebShop/retrieval benchmark runs (small sizes, BM25 only) and prints well-formed JSON rows."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_webshop_and_retrieval_rows_are_json_lines():
    cmd = [sys.executable, os.path.join(REPO, "benchmarks", "webshop_search_throughput.py"), "--products", "200",
           "--episodes", "5", "--passages", "300", "--batches", "1,4", "--skip-dense"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(ln) for ln in proc.stdout.splitlines() if ln.startswith("{")]
    by = {}
    for r in rows:
        by.setdefault(r["bench"], []).append(r)
    assert by["webshop_load"][0]["products"] == 200
    assert by["webshop_expert"][0]["episodes"] == 5 and by["webshop_expert"][0]["steps_per_s"] > 0
    assert by["retrieval_index"][0] == {**by["retrieval_index"][0], "retriever": "bm25", "passages": 300}
    assert {(r["mode"], r["batch"]) for r in by["retrieval_query"]} == {
        ("in_process", 1), ("http", 1), ("in_process", 4), ("http", 4)}
    assert all(r["queries_per_s"] > 0 for r in by["retrieval_query"])
    assert by["ratio"][0]["bm25_http_over_in_process_batch4"] > 0
