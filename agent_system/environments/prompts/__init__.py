"""Prompt templates per environment family (see ``base`` for the fields a template may use)."""
from agent_system.environments.prompts.base import PromptTemplates, build_prompt
from agent_system.environments.prompts.generic import GENERIC_TEMPLATES
from agent_system.environments.prompts.household import HOUSEHOLD_TEMPLATES

__all__ = ["GENERIC_TEMPLATES", "HOUSEHOLD_TEMPLATES", "PromptTemplates", "build_prompt"]
