"""The teacher writes the reasoning of a demonstration: why the demonstrated action is right.

For each step the teacher sees the step's prompt (what the agent saw, skills included) and the
action that was taken, and answers with a short justification that becomes the ``<think>`` part
of ``Step.model_output``; the action is never changed. A failed or empty teacher answer keeps the
step's previous text (and is counted in ``trajectory.meta["teacher_reasoning_failures"]``), so a
flaky endpoint costs reasoning quality, never data.

Departure from the paper: the paper has the teacher write reasoning for its SFT data but gives no
prompt; this wording is the project's own.
"""
from __future__ import annotations

import logging
import re
from typing import Any, Iterable, List

from agent_system.trajectory import Trajectory

logger = logging.getLogger("skillrl.sft")

_INSTRUCTION = (
    "You write the reasoning of an expert agent. Below is exactly what the agent saw, followed by the "
    "action it took. In two or three sentences, explain why that action is the right next step, as the "
    "agent thinking to itself before acting. Do not name a different action, do not use tags, and "
    "reply with the reasoning only."
)
_TAGS = re.compile(r"</?(?:think|action)>", re.I)


def reasoning_messages(prompt: str, action: str) -> List[dict]:
    return [{"role": "system", "content": _INSTRUCTION},
            {"role": "user", "content": f"{prompt}\n\nAction taken: {action}"}]


def clean_reasoning(text: str) -> str:
    """One paragraph without tags (a stray ``</think>`` would break the output format)."""
    return " ".join(_TAGS.sub(" ", text or "").split())


def add_teacher_reasoning(trajectories: Iterable[Trajectory], client: Any, progress: Any = None) -> dict:
    """Rewrite ``model_output`` of every valid step in place; returns call/failure counts."""
    counts = {"calls": 0, "failures": 0}
    for traj in trajectories:
        failed = 0
        for step in traj.steps:
            if not step.valid or not step.action:
                continue
            counts["calls"] += 1
            prompt = step.prompt or f"Goal: {traj.task}\nObservation: {step.observation}"
            try:
                text = clean_reasoning(client.chat(reasoning_messages(prompt, step.action)))
            except Exception as e:  # keep the step as it was; the data survives a bad endpoint
                text = ""
                logger.warning("teacher reasoning for %s failed: %s", traj.task_id, e)
            if not text:
                failed += 1
                continue
            step.model_output = f"<think>{text}</think><action>{step.action}</action>"
        counts["failures"] += failed
        traj.meta["teacher_reasoning"] = True
        traj.meta["teacher_reasoning_failures"] = failed
        if progress is not None:
            progress.update(1)
    return counts
