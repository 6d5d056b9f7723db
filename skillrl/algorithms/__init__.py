"""RL algorithm core: pure tensor functions, registered by name (torch/numpy/stdlib only)."""
from skillrl.algorithms.advantages import (
    compute_advantage,
    discounted_step_returns,
    gigpo,
    grpo,
    no_credit_for_invalid_steps,
    normalize_in_groups,
    reinforce_plus_plus,
    rloo,
    weight_negative_advantages,
)
from skillrl.algorithms.core import (
    LOSS_AGG_MODES,
    agg_loss,
    entropy_from_logits,
    last_token_index,
    logprobs_from_logits,
    masked_mean,
    masked_sum,
    masked_var,
    masked_whiten,
    response_mask_from_attention,
)
from skillrl.algorithms.kl import KL_PENALTIES, apply_kl_penalty_to_rewards, kl_penalty
from skillrl.algorithms.penalties import apply_invalid_action_penalty, as_bool_flags
from skillrl.algorithms.policy_loss import compute_policy_loss
from skillrl.algorithms.registry import (
    get_advantage_fn,
    get_policy_loss_fn,
    list_advantages,
    list_policy_losses,
    register_advantage,
    register_policy_loss,
)

__all__ = [
    "KL_PENALTIES",
    "LOSS_AGG_MODES",
    "agg_loss",
    "apply_invalid_action_penalty",
    "apply_kl_penalty_to_rewards",
    "as_bool_flags",
    "compute_advantage",
    "compute_policy_loss",
    "discounted_step_returns",
    "entropy_from_logits",
    "get_advantage_fn",
    "get_policy_loss_fn",
    "gigpo",
    "grpo",
    "kl_penalty",
    "last_token_index",
    "list_advantages",
    "list_policy_losses",
    "logprobs_from_logits",
    "masked_mean",
    "masked_sum",
    "masked_var",
    "masked_whiten",
    "no_credit_for_invalid_steps",
    "normalize_in_groups",
    "register_advantage",
    "register_policy_loss",
    "reinforce_plus_plus",
    "response_mask_from_attention",
    "rloo",
    "weight_negative_advantages",
]
