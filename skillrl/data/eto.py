"""Convert the public ETO SFT trajectories (ALFWorld conversations) into trajectory records.

ETO (Song et al., 2024, "Trial and Error: Exploration-Based Trajectory Optimization for LLM
Agents") publishes its ALFWorld demonstrations as a JSON list of
``{"id": ..., "conversations": [{"from": "human"|"gpt", "value": ...}, ...]}``. The first human
turn is an instruction (answered by the assistant with "OK"), a later human turn holds the room
description and ``Your task is to: ...``, each assistant turn is ``Think: ...\\nAct: ...`` (some
releases write ``Thought:`` / ``Action:``), and each following human turn is the environment's
``Observation: ...``. This module turns one such conversation into a
:class:`~agent_system.trajectory.Trajectory` with one :class:`~agent_system.trajectory.Step` per
assistant action, its ``model_output`` rewritten to this project's
``<think>..</think><action>..</action>`` format.

What the source does not record, and how it is filled in:

* admissible actions are not in ETO's data, so ``Step.admissible_actions`` is empty and
  ``Step.prompt`` is ``None``; ``python -m skillrl.main_sft`` rebuilds the RL-time prompt by
  replaying the actions through the environment manager when the game can be found.
* success is not stored either; ETO's SFT split consists of expert demonstrations that solve their
  task, so ``won`` is assumed true (``--assume_won false`` turns that off) unless a record carries
  its own ``reward`` / ``success`` field. The final step gets reward 1.0 when won.
* the task type comes from the record's ``id`` / ``game_file`` when either names one of ALFWorld's
  six task-type folders, else from the goal's wording by the ALFWorld family's detector.

Command line: ``python -m skillrl.data.eto --input alfworld_sft.json --output demos.jsonl``.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
from typing import Any, Dict, Iterator, List, Optional, Tuple

from agent_system.trajectory import Step, Trajectory, write_jsonl
from agent_system.environments.alfworld.task_types import ALFWORLD_TYPES, detect_alfworld_type

logger = logging.getLogger(__name__)

TASK_TYPES = ALFWORLD_TYPES  # the six ALFWorld task types, defined once by the alfworld family
_TURN = re.compile(
    r"^\s*(?:think|thought)\s*:\s*(?P<think>.*)\s(?:act|action)\s*:\s*(?P<act>.+?)\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ACT_ONLY = re.compile(r"^\s*(?:act|action)\s*:\s*(?P<act>.+?)\s*$", re.IGNORECASE | re.DOTALL)
_TASK = re.compile(r"your task is to\s*:\s*(?P<goal>.+)", re.IGNORECASE)
_OBS_PREFIX = re.compile(r"^\s*observation\s*:\s*", re.IGNORECASE)
_TASK_PREFIX = re.compile(r"^\s*here is your task\.?\s*", re.IGNORECASE)


def parse_assistant_turn(text: str) -> Tuple[str, str]:
    """``"Think: t\\nAct: a"`` -> ``("t", "a")``; an ``Act:``-only turn gives an empty thought."""
    m = _TURN.match(text) or _ACT_ONLY.match(text)
    if m is None:
        raise ValueError("expected 'Think: <reasoning>' followed by 'Act: <action>'")
    think = m.groupdict().get("think") or ""
    action = m.group("act").strip().splitlines()[0].strip()
    if not action:
        raise ValueError("the 'Act:' part is empty")
    return think.strip(), action


def format_model_output(think: str, action: str) -> str:
    return f"<think>{think}</think><action>{action}</action>"


def infer_task_type(goal: str, *names: Optional[str]) -> str:
    """The task type named by an id / game path, else the one the goal's wording implies (the
    ALFWorld family's detector, which types every goal of ALFWorld's games as its folder does)."""
    for name in names:
        for t in TASK_TYPES:
            if name and t in str(name):
                return t
    return detect_alfworld_type(goal)


def _task_turn_index(turns: List[Dict[str, str]]) -> int:
    """The last human turn stating the goal (earlier ones may be in-context examples)."""
    idx = [i for i, t in enumerate(turns) if t["from"] == "human" and _TASK.search(t["value"])]
    if not idx:
        raise ValueError("no human turn contains 'Your task is to: ...'")
    return idx[-1]


def _check_turns(conv: Any) -> List[Dict[str, str]]:
    if not isinstance(conv, list) or not conv:
        raise ValueError("field 'conversations' must be a non-empty list of turns")
    for j, turn in enumerate(conv):
        if not isinstance(turn, dict) or "from" not in turn or "value" not in turn:
            raise ValueError(f"conversations[{j}] must be an object with 'from' and 'value'")
        if turn["from"] not in ("human", "gpt"):
            raise ValueError(f"conversations[{j}].from={turn['from']!r}; expected 'human' or 'gpt'")
        if not isinstance(turn["value"], str):
            raise ValueError(f"conversations[{j}].value must be a string")
    return conv


def _won(record: Dict[str, Any], assume_won: bool) -> bool:
    for key in ("success", "won"):
        if key in record:
            return bool(record[key])
    if "reward" in record:
        return float(record["reward"]) > 0
    return assume_won


def convert_record(record: Any, split: str = "train", env_name: str = "alfworld/AlfredTWEnv",
                   assume_won: bool = True) -> Trajectory:
    """One ETO conversation -> one trajectory. Raises ValueError saying which field is wrong."""
    if not isinstance(record, dict):
        raise ValueError(f"a record must be a JSON object, got {type(record).__name__}")
    if "conversations" not in record:
        raise ValueError("missing field 'conversations'")
    turns = _check_turns(record["conversations"])
    start = _task_turn_index(turns)
    task_text = _TASK_PREFIX.sub("", turns[start]["value"]).strip()
    goal = _TASK.search(task_text).group("goal").strip().splitlines()[0].strip().rstrip(".")
    observation, steps, final_obs = task_text, [], None
    for j in range(start + 1, len(turns)):
        turn = turns[j]
        if turn["from"] == "human":
            observation = final_obs = _OBS_PREFIX.sub("", turn["value"]).strip()
            continue
        try:
            think, action = parse_assistant_turn(turn["value"])
        except ValueError as e:
            raise ValueError(f"conversations[{j}] (gpt): {e}") from None
        steps.append(Step(observation=observation, admissible_actions=[],
                          model_output=format_model_output(think, action), action=action, reward=0.0))
        final_obs = None
    if not steps:
        raise ValueError(f"no assistant action after the task turn conversations[{start}]")
    won = _won(record, assume_won)
    steps[-1].reward = 1.0 if won else 0.0
    rid = str(record.get("id", ""))
    game = record.get("game_file")
    meta = {"source": "eto", "eto_id": rid, "won_assumed": not any(k in record for k in ("success", "won", "reward"))}
    if game:
        meta["game_file"] = game
    if final_obs:
        meta["final_observation"] = final_obs
    return Trajectory(task=goal, task_type=infer_task_type(goal, rid, game), task_id=str(game or rid),
                      steps=steps, won=won, env_name=env_name, split=split, meta=meta)


def iter_records(path: str) -> Iterator[Tuple[str, Any]]:
    """(where, record) for a JSON list file or a JSONL file; ``where`` names file and record/line."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FileNotFoundError(f"ETO input file {path} does not exist") from None
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON (line {e.lineno}, column {e.colno}: {e.msg})") from None
        for i, rec in enumerate(data):
            yield f"{path}: record {i}", rec
        return
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{path}:{lineno}", json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}:{lineno}: not valid JSON ({e.msg}); expected a JSON list of "
                             "records or one record per line") from None


def convert_file(path: str, split: str = "train", env_name: str = "alfworld/AlfredTWEnv",
                 assume_won: bool = True, limit: int = -1) -> List[Trajectory]:
    out: List[Trajectory] = []
    for where, rec in iter_records(path):
        if 0 <= limit <= len(out):
            break
        rid = rec.get("id") if isinstance(rec, dict) else None
        try:
            out.append(convert_record(rec, split=split, env_name=env_name, assume_won=assume_won))
        except ValueError as e:
            label = f" (id={rid!r})" if rid is not None else ""
            raise ValueError(f"{where}{label}: {e}") from None
    return out


def _bool(text: str) -> bool:
    if text.lower() in ("1", "true", "yes"):
        return True
    if text.lower() in ("0", "false", "no"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description="Convert ETO ALFWorld SFT conversations into trajectories JSONL.")
    p.add_argument("--input", required=True, help="ETO JSON list (or JSONL) of {id, conversations}")
    p.add_argument("--output", required=True, help="trajectories JSONL to write")
    p.add_argument("--split", default="train")
    p.add_argument("--env_name", default="alfworld/AlfredTWEnv")
    p.add_argument("--assume_won", type=_bool, default=True,
                   help="mark records without a reward/success field as won (ETO's SFT data are expert solutions)")
    p.add_argument("--limit", type=int, default=-1, help="convert at most this many records (-1: all)")
    args = p.parse_args(argv)
    trajs = convert_file(args.input, args.split, args.env_name, args.assume_won, args.limit)
    n = write_jsonl(args.output, trajs)
    steps = sum(len(t.steps) for t in trajs)
    print(json.dumps({"input": args.input, "output": args.output, "trajectories": n, "steps": steps}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
