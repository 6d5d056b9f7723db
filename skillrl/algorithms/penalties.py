"""Invalid-action penalty: a step whose output could not be parsed into an admissible action
loses ``coef`` reward at the last token of its response.

As in verl-agent, except that the flags are checked (a string such as ``"False"`` is rejected
rather than read as true), rows with an empty response are counted but cannot be penalised, and
the input tensor is not modified in place.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np
import torch

from skillrl.algorithms.core import last_token_index

__all__ = ["apply_invalid_action_penalty", "as_bool_flags"]


def as_bool_flags(values: Any, name: str = "is_action_valid") -> np.ndarray:
    """A [bs] bool array from a bool tensor / numpy array / list; non-boolean entries raise."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.reshape(-1)
    if arr.dtype.kind in "iu" and np.isin(arr, (0, 1)).all():
        return arr.astype(bool).reshape(-1)
    if arr.dtype == object and all(isinstance(v, (bool, np.bool_)) for v in arr.reshape(-1)):
        return arr.astype(bool).reshape(-1)
    bad = next((v for v in arr.reshape(-1) if not isinstance(v, (bool, np.bool_, int, np.integer))), arr.dtype)
    raise ValueError(f"{name} must hold booleans (True = the action was valid); found {bad!r}")


def apply_invalid_action_penalty(
    token_level_rewards: torch.Tensor,
    response_mask: torch.Tensor,
    is_action_valid: Any,
    coef: float,
) -> Tuple[torch.Tensor, Dict[str, float]]:
    """Return ``(new_rewards [bs, R], metrics)``; ``coef`` is subtracted once per invalid row.

    Metrics: ``invalid_action_rate`` (fraction of step samples with an invalid action),
    ``invalid_action_count`` and ``invalid_action_penalized`` (rows that had a token to carry it).
    """
    if coef < 0:
        raise ValueError(f"invalid_action_penalty_coef={coef} must be >= 0 (it is subtracted)")
    valid = as_bool_flags(is_action_valid)
    bs = token_level_rewards.shape[0]
    if valid.shape[0] != bs:
        raise ValueError(f"is_action_valid has {valid.shape[0]} entries but the batch has {bs} rows")
    invalid = torch.from_numpy(~valid).to(token_level_rewards.device)
    last = last_token_index(response_mask)
    rows = torch.nonzero(invalid & (last >= 0), as_tuple=True)[0]
    rewards = token_level_rewards.clone()
    rewards[rows, last[rows]] -= coef
    metrics = {
        "invalid_action_rate": float(invalid.float().mean().item()) if bs else 0.0,
        "invalid_action_count": float(invalid.sum().item()),
        "invalid_action_penalized": float(rows.numel()),
    }
    return rewards, metrics
