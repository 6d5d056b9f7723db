"""``python -m skillrl.main_eval`` on the household family: expert, local model, OpenAI endpoint."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from agent_system.environments.household import TASK_TYPES
from skillrl.config import load_config
from tests.support.openai_server import OpenAIServer, Reply

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _overrides(out, *extra):
    return ["env.env_name=household", f"eval.output={out}", "eval.progress_bar=false",
            f"trainer.default_local_dir={os.path.dirname(out)}", *extra]


def test_cli_expert_succeeds_on_every_task_type_with_progress_lines(tmp_path):
    """The command line (one subprocess for both checks): the expert wins every household task type,
    and with stderr not a terminal the progress comes one line per episode."""
    out = tmp_path / "res" / "eval.json"
    cmd = [sys.executable, "-m", "skillrl.main_eval", "env.env_name=household", "eval.policy=expert",
           "eval.split=valid", "env.household.num_val_tasks=18", "env.household.size=3", "eval.batch_size=7",
           "env.max_steps=20",
           f"eval.output={out}", f"eval.trajectories={tmp_path / 'trajs.jsonl'}"]
    env = dict(os.environ, PYTHONPATH=REPO)
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(out.read_text())
    assert res["success_rate"] == 1.0 and res["num_episodes"] == 18
    assert res["success_rate_by_task_type"] == {t: 1.0 for t in TASK_TYPES}
    assert res["num_episodes_by_task_type"] == {t: 3 for t in TASK_TYPES}
    assert 2 <= res["mean_steps"] <= 12 and res["env_steps_per_s"] > 0 and res["invalid_action_rate"] == 0.0
    assert "success_rate 1.000 over 18 episodes" in proc.stdout
    lines = (tmp_path / "trajs.jsonl").read_text().splitlines()
    assert len(lines) == 18 and all(json.loads(ln)["won"] for ln in lines)
    progress = [ln for ln in proc.stderr.splitlines() if ln.startswith("eval household/valid (expert): ")]
    assert [ln.split(": ")[1].split(" episodes")[0] for ln in progress][-1] == "18/18" and len(progress) >= 2


def test_cli_rejects_a_bad_value_with_the_key_name(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "skillrl.main_eval", "eval.policy=oracle",
                           f"eval.output={tmp_path / 'x.json'}"], cwd=tmp_path, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=REPO), timeout=120)
    assert proc.returncode != 0 and "eval.policy='oracle'" in proc.stderr
    assert not (tmp_path / "x.json").exists()


def test_expert_through_ray_workers(tmp_path, ray_local):
    from skillrl.main_eval import evaluate

    cfg = load_config("eval", _overrides(str(tmp_path / "e.json"), "eval.pool=ray", "eval.split=train",
                                         "eval.num_episodes=6", "eval.batch_size=3", "env.max_steps=20"))
    res = evaluate(cfg)
    assert res["pool"] == "ray" and res["success_rate"] == 1.0 and res["num_episodes"] == 6


def _pick_admissible(req):
    """A loopback 'model': the first 'take'/'go to' action it finds in the prompt, well formatted."""
    acts = re.findall(r"'([^']+)'", req.prompt_text.split("The actions you may take now:")[-1])
    act = next((a for a in acts if a.startswith("take ")), None) or next(a for a in acts if a.startswith("go to"))
    return Reply.text(f"<think>Trying {act}.</think>\n<action>{act}</action>")


def test_openai_policy_with_skills_against_a_loopback_server(tmp_path):
    from skillrl.main_eval import evaluate

    with OpenAIServer(default_reply=_pick_admissible) as server:
        cfg = load_config("eval", _overrides(
            str(tmp_path / "o.json"), "eval.policy=openai", "eval.openai.model=loop", "eval.split=valid",
            f"eval.openai.base_url={server.base_url}", "eval.openai.max_retries=0", "eval.num_episodes=3",
            "env.max_steps=3", "env.use_skills_only_memory=true"))
        server.script([Reply.error(500)])  # the first call fails: an invalid step, not a crash
        res = evaluate(cfg)
        assert res["num_episodes"] == 3 and res["skills"] is True
        assert 0 < res["invalid_action_rate"] < 0.5
        first = server.requests[0].prompt_text
        assert "## Skills from similar tasks" in first and "Your task is to:" in first  # skills from the first step
        assert res["env_steps"] == len(server.requests)


def test_model_policy_with_the_tiny_model(tmp_path, tiny_model_dir):
    from skillrl.main_eval import evaluate

    cfg = load_config("eval", _overrides(
        str(tmp_path / "m.json"), "eval.policy=model", "eval.backend=hf",
        f"actor_rollout_ref.model.path={tiny_model_dir}",
        "eval.num_episodes=2", "env.max_steps=2", "data.max_prompt_length=96", "data.max_response_length=8",
        "env.use_skills_only_memory=false", "trainer.device=cpu"))
    res = evaluate(cfg)
    # a random-weight model does not follow the format: every step is invalid, the run still completes
    assert res["num_episodes"] == 2 and res["mean_steps"] == 2 and res["invalid_action_rate"] == 1.0
    assert res["success_rate"] == 0.0 and res["model"] == tiny_model_dir
    assert json.load(open(tmp_path / "m.json"))["policy"] == "model"


def test_a_sampled_evaluation_does_not_depend_on_the_batch_size(tmp_path, tiny_model_dir):
    from skillrl.main_eval import evaluate

    def outputs(batch_size, seed=0):
        out = tmp_path / f"b{batch_size}_s{seed}.json"
        evaluate(load_config("eval", _overrides(
            str(out), "eval.policy=model", "eval.backend=hf", f"actor_rollout_ref.model.path={tiny_model_dir}",
            "eval.num_episodes=4", f"eval.batch_size={batch_size}", f"eval.trajectories={out}l",
            "env.max_steps=3", "data.max_prompt_length=96", "data.max_response_length=8",
            "actor_rollout_ref.rollout.val_kwargs.temperature=1.0", f"actor_rollout_ref.rollout.seed={seed}",
            "env.use_skills_only_memory=false", "trainer.device=cpu")))
        rows = [json.loads(line) for line in open(f"{out}l")]
        return {r["task_id"]: [st["model_output"] for st in r["steps"]] for r in rows}

    four = outputs(4)
    assert len(four) == 4 and all(len(steps) == 3 for steps in four.values())
    assert len({o for steps in four.values() for o in steps}) > 6  # sampled, not one repeated text
    # each episode draws from its own (task, turn) seed: the same texts one or two tasks at a time
    assert outputs(1) == four and outputs(3) == four
    assert outputs(4, seed=1) != four


def test_expert_on_real_alfworld_games_covers_every_type(tmp_path, alfworld_data_dir):
    from skillrl.main_eval import evaluate

    cfg = load_config("eval", [
        "env.env_name=alfworld/AlfredTWEnv", f"env.alfworld.data_path={alfworld_data_dir}", "env.max_steps=50",
        "eval.policy=expert", "eval.split=valid_seen", "eval.num_episodes=6", "eval.batch_size=6", "eval.pool=local",
        f"eval.output={tmp_path / 'alf.json'}", "eval.progress_bar=false", f"trainer.default_local_dir={tmp_path}"])
    res = evaluate(cfg)
    assert res["num_episodes"] == 6 and res["invalid_action_rate"] == 0.0
    assert res["success_rate_by_task_type"] == {t: 1.0 for t in TASK_TYPES}  # round-robin cap: one game per type


def test_capped_selection_takes_task_types_round_robin():
    from agent_system.environments.base import TaskSpec
    from skillrl.main_eval import select_tasks

    class Grouped:  # tasks listed grouped by type, as ALFWorld's folders are
        env_cfg = None

        def tasks(self, split):
            return [TaskSpec(f"{t}/{i}", split, t) for t in ("a", "b", "c") for i in range(3)]

    assert [t.task_id for t in select_tasks(Grouped(), "train", 5)] == ["a/0", "b/0", "c/0", "a/1", "b/1"]
    assert len(select_tasks(Grouped(), "train", -1)) == 9


def test_generation_and_turn_limits_default_to_trainings():
    from skillrl.config.schema import EvalConfig, PPOConfig

    ev, tr = load_config("eval"), load_config("ppo_trainer")
    assert (ev.data.max_response_length, ev.env.max_steps) == (tr.data.max_response_length, tr.env.max_steps) == (48, 6)
    assert ev.data == PPOConfig().data == EvalConfig().data and ev.env.max_steps == PPOConfig().env.max_steps
