"""Prompt templates: what the environment manager fills in for each step.

A family supplies one :class:`PromptTemplates` (``family.templates``); ``env.prompt_template_dir``
replaces any of them with files (:mod:`agent_system.environments.prompts.files`). Templates are
``str.format`` strings; the fields they may use are:

* ``first_step`` / ``with_history``: ``{task}``, ``{observation}``, ``{skills}`` (the rendered
  ``skills_section``, or ``""``), ``{admissible}`` (the rendered ``admissible_section``, or ``""``
  when the family has no admissible actions), and for ``with_history`` also ``{history}``,
  ``{history_length}`` (pairs shown), ``{step_count}`` (steps taken) and ``{current_step}``.
  The original SkillRL templates' names work too, so its wording can be dropped in unchanged:
  ``{task_description}``, ``{current_observation}``, ``{admissible_actions}`` and
  ``{available_actions}`` (WebShop's name; both the actions alone, without the section around them), ``{retrieved_memories}`` (the skills text alone),
  ``{action_history}`` and ``{memory_context}`` (both the history).
* ``skills_section``: ``{skills_text}``.
* ``admissible_section``: ``{actions}`` (each action written as ``admissible_item``, quoted by
  default, joined by ``admissible_separator``).
* ``history_item``: ``{index}`` (1-based step number), ``{observation}``, ``{action}``.

Values are substituted once, so braces inside observations or skills are harmless.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence, Tuple

TEMPLATE_FIELDS: Dict[str, Tuple[str, ...]] = {
    "first_step": ("task", "observation", "skills", "admissible", "task_description", "current_observation",
                   "admissible_actions", "available_actions", "retrieved_memories"),
    "with_history": ("task", "observation", "skills", "admissible", "task_description", "current_observation",
                     "admissible_actions", "available_actions", "retrieved_memories", "history", "history_length",
                     "step_count", "current_step", "action_history", "memory_context"),
    "history_item": ("index", "observation", "action"),
    "skills_section": ("skills_text",),
    "admissible_section": ("actions",),
}


@dataclass(frozen=True)
class PromptTemplates:
    first_step: str
    with_history: str
    history_item: str
    skills_section: str
    admissible_section: str
    history_separator: str = "\n"
    admissible_separator: str = ", "
    admissible_item: str = "'{action}'"  # one admissible action as listed (WebShop: followed by a comma)
    hidden_actions: Tuple[str, ...] = ()  # admissible actions left out of the prompt (still admissible)


def render_skills(t: PromptTemplates, skills_text: str) -> str:
    return t.skills_section.format(skills_text=skills_text.strip()) if skills_text and skills_text.strip() else ""


def quoted_actions(t: PromptTemplates, actions: Sequence[str] | None) -> str:
    return t.admissible_separator.join(t.admissible_item.format(action=a) for a in actions or ()
                                       if a not in t.hidden_actions)


def render_admissible(t: PromptTemplates, actions: Sequence[str] | None) -> str:
    if not actions:
        return ""
    return t.admissible_section.format(actions=quoted_actions(t, actions))


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
    max_chars: int = 0,
) -> str:
    """The user message for one step; ``history`` holds (step number, observation, action).

    A prompt with history longer than ``max_chars`` characters (0: no limit) is rendered from
    ``first_step`` instead, as the original SkillRL does for over-long prompts."""
    common = dict(task=task, observation=observation, skills=render_skills(t, skills_text),
                  admissible=render_admissible(t, admissible), task_description=task,
                  current_observation=observation, admissible_actions=quoted_actions(t, admissible),
                  available_actions=quoted_actions(t, admissible),
                  retrieved_memories=skills_text.strip() if skills_text else "")
    if step_count == 0 or not history:
        return t.first_step.format(**common)
    rendered = render_history(t, history)
    prompt = t.with_history.format(history=rendered, history_length=len(history), step_count=step_count,
                                   current_step=step_count + 1, action_history=rendered, memory_context=rendered,
                                   **common)
    if max_chars > 0 and len(prompt) > max_chars:
        return t.first_step.format(**common)
    return prompt
