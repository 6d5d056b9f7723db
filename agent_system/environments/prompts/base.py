"""Prompt templates: what the environment manager fills in for each step.

A family supplies one :class:`PromptTemplates` (``family.templates``). Templates are
``str.format`` strings; the fields they may use are:

* ``first_step`` / ``with_history``: ``{task}``, ``{observation}``, ``{skills}`` (the rendered
  ``skills_section``, or ``""``), ``{admissible}`` (the rendered ``admissible_section``, or ``""``
  when the family has no admissible actions), and for ``with_history`` also ``{history}``,
  ``{history_length}`` (pairs shown), ``{step_count}`` (steps taken) and ``{current_step}``.
* ``skills_section``: ``{skills_text}``.
* ``admissible_section``: ``{actions}`` (the actions, quoted and comma-separated).
* ``history_item``: ``{index}`` (1-based step number), ``{observation}``, ``{action}``.

Values are substituted once, so braces inside observations or skills are harmless.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence, Tuple


@dataclass(frozen=True)
class PromptTemplates:
    first_step: str
    with_history: str
    history_item: str
    skills_section: str
    admissible_section: str
    history_separator: str = "\n"


def render_skills(t: PromptTemplates, skills_text: str) -> str:
    return t.skills_section.format(skills_text=skills_text.strip()) if skills_text and skills_text.strip() else ""


def render_admissible(t: PromptTemplates, actions: Sequence[str] | None) -> str:
    if not actions:
        return ""
    return t.admissible_section.format(actions=", ".join(f"'{a}'" for a in actions))


def render_history(t: PromptTemplates, pairs: Sequence[Tuple[int, str, str]]) -> str:
    return t.history_separator.join(
        t.history_item.format(index=i, observation=o, action=a) for i, o, a in pairs
    )


def build_prompt(
    t: PromptTemplates,
    *,
    task: str,
    observation: str,
    skills_text: str = "",
    admissible: Sequence[str] | None = None,
    history: Sequence[Tuple[int, str, str]] = (),
    step_count: int = 0,
) -> str:
    """The user message for one step; ``history`` holds (step number, observation, action)."""
    common = dict(task=task, observation=observation, skills=render_skills(t, skills_text),
                  admissible=render_admissible(t, admissible))
    if step_count == 0 or not history:
        return t.first_step.format(**common)
    return t.with_history.format(history=render_history(t, history), history_length=len(history),
                                 step_count=step_count, current_step=step_count + 1, **common)
