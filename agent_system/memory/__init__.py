"""Memories the environment manager retrieves from: the skill bank (SkillRL), or stored raw
trajectories (the paper's baseline, ``env.use_retrieval_memory``)."""
from agent_system.memory.retrieved import RetrievedSkills
from agent_system.memory.skills_only_memory import SkillsOnlyMemory, resolve_bank_path
from agent_system.memory.trajectory_memory import RawTrajectoryMemory

__all__ = ["RawTrajectoryMemory", "RetrievedSkills", "SkillsOnlyMemory", "resolve_bank_path"]
