"""Turn environment outcomes into token-level scores for the policy update."""
from agent_system.reward_manager.episode import EpisodeRewardManager, episode_token_scores

__all__ = ["EpisodeRewardManager", "episode_token_scores"]
