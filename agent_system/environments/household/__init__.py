"""Embedded household environment: ALFWorld's six task types in pure Python, no download.

Importing this package registers the ``household`` family (``env.env_name=household``).
"""
from agent_system.environments.household.catalog import TASK_TYPES
from agent_system.environments.household.engine import HouseholdEnv
from agent_system.environments.household.family import HouseholdFamily
from agent_system.environments.household.world import World, derive_seed, generate_world

__all__ = ["TASK_TYPES", "HouseholdEnv", "HouseholdFamily", "World", "derive_seed", "generate_world"]
