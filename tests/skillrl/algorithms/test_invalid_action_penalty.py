"""Invalid-action penalty at the last response token of each invalid step sample."""
import numpy as np
import pytest
import torch

from skillrl.algorithms.penalties import apply_invalid_action_penalty, as_bool_flags

MASK = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])


@pytest.mark.parametrize("flags", [
    np.array([False, True, False]),
    np.array([False, True, False], dtype=object),
    torch.tensor([False, True, False]),
    [0, 1, 0],
])
def test_penalty_at_last_token(flags):
    rewards = torch.zeros(3, 4)
    rewards[1, 3] = 1.0
    out, metrics = apply_invalid_action_penalty(rewards, MASK, flags, coef=0.1)
    # row 0 invalid: last response token is index 1 -> -0.1; row 1 valid: unchanged;
    # row 2 invalid but has no response token: nothing to put the penalty on
    expected = [[0, -0.1, 0, 0], [0, 0, 0, 1.0], [0, 0, 0, 0]]
    torch.testing.assert_close(out, torch.tensor(expected))
    assert rewards[0, 1] == 0.0  # input untouched
    assert metrics["invalid_action_rate"] == pytest.approx(2 / 3)
    assert metrics["invalid_action_count"] == 2.0 and metrics["invalid_action_penalized"] == 1.0


def test_zero_coef_and_all_valid():
    r = torch.ones(3, 4)
    out, m = apply_invalid_action_penalty(r, MASK, [True, True, True], 0.5)
    assert torch.equal(out, r) and m["invalid_action_rate"] == 0.0
    out, _ = apply_invalid_action_penalty(r, MASK, [False] * 3, 0.0)
    assert torch.equal(out, r)


def test_bad_inputs():
    with pytest.raises(ValueError, match="is_action_valid must hold booleans.*found 'True'"):
        as_bool_flags(np.array(["True", "False"], dtype=object))
    with pytest.raises(ValueError, match="2 entries but the batch has 3"):
        apply_invalid_action_penalty(torch.zeros(3, 4), MASK, [True, False], 0.1)
    with pytest.raises(ValueError, match="must be >= 0"):
        apply_invalid_action_penalty(torch.zeros(3, 4), MASK, [True] * 3, -0.1)
