"""Multi-turn rollouts: the token-level training loop (rollout_loop) and plain-text episodes."""
