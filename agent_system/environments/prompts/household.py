"""Prompt templates shared by the household and ALFWorld families (same world, same grammar)."""
from __future__ import annotations

from agent_system.environments.prompts.base import PromptTemplates

_INSTRUCTIONS = (
    "Reason about the situation step by step first, and put that reasoning inside <think> </think>. "
    "Then give exactly one action from the admissible actions inside <action> </action>, for example "
    "<action>go to countertop 1</action>. Write nothing after the closing </action> tag."
)

HOUSEHOLD_TEMPLATES = PromptTemplates(
    first_step=(
        "You control an agent in a text-based household environment.\n"
        "{skills}"
        "Your goal: {task}\n\n"
        "What you currently observe: {observation}\n"
        "{admissible}\n"
        + _INSTRUCTIONS
    ),
    with_history=(
        "You control an agent in a text-based household environment.\n"
        "{skills}"
        "Your goal: {task}\n\n"
        "You have already taken {step_count} step(s). Your most recent {history_length} "
        "observation(s) and the action taken after each:\n{history}\n\n"
        "This is step {current_step}. What you currently observe: {observation}\n"
        "{admissible}\n"
        + _INSTRUCTIONS
    ),
    history_item="Step {index}. Observation: {observation} | Action: {action}",
    skills_section="Skills that may help with this kind of task:\n{skills_text}\n\n",
    admissible_section="Admissible actions right now: [{actions}]\n",
)
