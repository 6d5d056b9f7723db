"""Fallback templates for a family that brings none of its own."""
from __future__ import annotations

from agent_system.environments.prompts.base import PromptTemplates

_INSTRUCTIONS = (
    "Think the situation through step by step inside <think> </think>, then give your next action "
    "inside <action> </action>. Write nothing after the closing </action> tag."
)

GENERIC_TEMPLATES = PromptTemplates(
    first_step="You are an agent solving a task in a text environment.\n{skills}Your goal: {task}\n\n"
               "What you currently observe: {observation}\n{admissible}\n" + _INSTRUCTIONS,
    with_history="You are an agent solving a task in a text environment.\n{skills}Your goal: {task}\n\n"
                 "You have already taken {step_count} step(s). Your most recent {history_length} observation(s) "
                 "and the action taken after each:\n{history}\n\nThis is step {current_step}. What you currently "
                 "observe: {observation}\n{admissible}\n" + _INSTRUCTIONS,
    history_item="Step {index}. Observation: {observation} | Action: {action}",
    skills_section="Skills that may help with this kind of task:\n{skills_text}\n\n",
    admissible_section="Admissible actions right now: [{actions}]\n",
)
