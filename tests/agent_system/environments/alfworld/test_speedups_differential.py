"""The engine speed-ups change nothing the agent sees.

Two fresh processes play the same seeded random action sequences (uniform over the admissible
actions, with malformed commands mixed in) on 18 games, three of each task type from
``valid_seen`` and ``valid_unseen``: one on the stock engine (nothing patched is ever imported
there), one with ``enable_speedups()``, replaying every game twice so the second episode runs on
warm caches (and skips the reload), writing a fresh disk cache of translations and grammars; then a
third process plays them once more from that disk cache alone. Every observation, admissible-action list, score, reward,
won/done flag and expert plan must be byte-identical. Timings are printed, not asserted.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_system.environments.alfworld import engine_cache, speedups
from agent_system.environments.alfworld.differential import first_difference
from agent_system.environments.alfworld.games import TASK_TYPES, discover_games

GAMES_PER_TYPE = 3
STEPS = 20
SEED = 7


def _pick_games(root: str):
    by_type = {t: [] for t in TASK_TYPES}
    for split in ("valid_seen", "valid_unseen"):
        for task in discover_games(Path(root), split):
            by_type[task.task_type].append(task)
    picked = []
    for t in TASK_TYPES:
        games = by_type[t]
        assert len(games) >= GAMES_PER_TYPE, t
        stride = len(games) // GAMES_PER_TYPE  # spread over scenes and both splits
        picked += [games[i * stride] for i in range(GAMES_PER_TYPE)]
    return [g.payload["gamefile"] for g in picked]


def _start(repo_root, games, out, speedups_on: int, repeats: int, cache_dir=None):
    cmd = [sys.executable, "-m", "agent_system.environments.alfworld.differential", "--speedups", str(speedups_on),
           "--seed", str(SEED), "--steps", str(STEPS), "--repeats", str(repeats), "--out", str(out), *games]
    env = dict(os.environ, PYTHONPATH=str(repo_root))
    if cache_dir is not None:
        env[engine_cache.ENV_VAR] = str(cache_dir)
    return subprocess.Popen(cmd, cwd=str(repo_root), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _finish(proc, what):
    try:
        out, _ = proc.communicate(timeout=900)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the {what} recording did not finish in 900 s")
    assert proc.returncode == 0, f"{what} recording failed:\n{out[-4000:]}"


@pytest.mark.slow(seconds=45)
def test_random_play_is_byte_identical_with_and_without_speedups(alfworld_data_dir, repo_root, tmp_path):
    games = _pick_games(alfworld_data_dir)
    stock_out, fast_out, disk_out = tmp_path / "stock.json", tmp_path / "fast.json", tmp_path / "disk.json"
    cache_dir = tmp_path / "engine-cache"
    stock = _start(repo_root, games, stock_out, 0, repeats=1)
    fast = _start(repo_root, games, fast_out, 1, repeats=2, cache_dir=cache_dir)
    _finish(fast, "sped-up")
    assert len(list(cache_dir.glob("pddl2sas/*/*.pkl.z"))) == 2 * len(games)  # plain + optimised per game
    disk = _start(repo_root, games, disk_out, 1, repeats=1, cache_dir=cache_dir)
    _finish(disk, "disk-cached")
    _finish(stock, "stock")
    a, b = json.loads(stock_out.read_text()), json.loads(fast_out.read_text())
    c = json.loads(disk_out.read_text())

    diff = first_difference(a, b)
    assert diff is None, diff
    diff = first_difference(a, c)
    assert diff is None, "from the disk cache: " + str(diff)
    steps = sum(g["steps"] for g in a)
    assert len(a) == len(TASK_TYPES) * GAMES_PER_TYPE and steps >= len(a) * 5
    records = [r for g in a for ep in g["episodes"] for r in ep]
    assert any(r["observation"] == "Nothing happens." for r in records)  # malformed commands were played
    assert len({r["observation"] for r in records}) > len(records) // 3  # varied play, not a stuck loop
    stock_step = sum(g["step_s"] for g in a) / steps
    fast_step = sum(g["step_s"] for g in b) / sum(g["steps"] for g in b)
    stock_reset = sum(sum(g["reset_s"]) for g in a) / len(a)
    fast_first = sum(g["reset_s"][0] for g in b) / len(b)
    disk_reset = sum(g["reset_s"][0] for g in c) / len(c)
    print(json.dumps({"disk_cached_reset_s": disk_reset, "games": len(a), "steps": steps, "stock_step_ms": 1000 * stock_step,
                      "fast_step_ms": 1000 * fast_step, "step_speedup": stock_step / fast_step,
                      "stock_reset_s": stock_reset, "fast_first_reset_s": fast_first}))


def test_translations_are_identical_with_shared_grounding(alfworld_data_dir, tmp_path, monkeypatch):
    import fast_downward

    monkeypatch.setenv(engine_cache.ENV_VAR, str(tmp_path))  # a cold cache: every translation is made here

    games = _pick_games(alfworld_data_dir)[::6][:3]
    speedups.disable_speedups()
    data = [json.loads(Path(g).read_text()) for g in games]
    stock = [[fast_downward.pddl2sas(d["pddl_domain"], d["pddl_problem"], optimize=o)[1] for o in (False, True)]
             for d in data]
    with speedups.speedups(True):
        for d, expected in zip(data, stock):
            got = [fast_downward.pddl2sas(d["pddl_domain"], d["pddl_problem"], optimize=o)[1] for o in (False, True)]
            assert got == expected
        stats = speedups.cache_stats()
        assert stats["explore.hits"] == len(games) and stats["pddl2sas.misses"] == 2 * len(games)


def test_enable_and_disable_are_reversible():
    import fast_downward
    import textworld.logic as tw_logic
    from textworld.envs.pddl import logic as pddl_logic
    from textworld.envs.pddl import textgen

    speedups.disable_speedups()
    originals = (textgen._parse_and_convert, textgen.copy_context, textgen.EvalSymbol.derive,
                 pddl_logic._parse_and_convert, tw_logic._parse_and_convert, fast_downward.pddl2sas)
    assert speedups.enable_speedups() is True and speedups.speedups_enabled()
    assert speedups.enable_speedups() is False  # idempotent
    assert textgen._parse_and_convert is not originals[0] and fast_downward.pddl2sas is not originals[-1]
    assert speedups.disable_speedups() is True and not speedups.speedups_enabled()
    now = (textgen._parse_and_convert, textgen.copy_context, textgen.EvalSymbol.derive,
           pddl_logic._parse_and_convert, tw_logic._parse_and_convert, fast_downward.pddl2sas)
    assert all(x is y for x, y in zip(now, originals))
    with speedups.speedups(True):
        assert speedups.speedups_enabled()
        with speedups.speedups(False):
            assert textgen.copy_context is originals[1]
        assert textgen.copy_context is not originals[1]
    assert not speedups.speedups_enabled() and textgen.copy_context is originals[1]
