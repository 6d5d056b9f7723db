"""ALFWorld on the real ``alfworld`` / TextWorld engine, with optional engine caches (speedups.py).

Importing this package registers the family; the engine itself (textworld, fast-downward) is
imported only when an environment is made.
"""
from agent_system.environments.alfworld.family import AlfworldFamily
from agent_system.environments.alfworld.games import TASK_TYPES, discover_games, resolve_data_root

__all__ = ["AlfworldFamily", "TASK_TYPES", "discover_games", "resolve_data_root"]
