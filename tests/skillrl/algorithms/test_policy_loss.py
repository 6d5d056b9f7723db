"""PPO clipped surrogate with asymmetric and dual clip: hand-computed values."""
import math

import pytest
import torch

from skillrl.algorithms.policy_loss import compute_policy_loss

# One row, four tokens; old log-prob 0, so ratio = exp(new log-prob).
ADV = torch.tensor([[1.0, 1.0, -1.0, -1.0]])
RATIO = torch.tensor([[1.5, 0.9, 0.5, 4.0]])
OLD = torch.zeros(1, 4)
MASK = torch.ones(1, 4)


def test_clip_and_dual_clip_by_hand():
    new = RATIO.log().requires_grad_(True)
    loss, clipfrac, kl, clipfrac_lower = compute_policy_loss(OLD, new, ADV, MASK, 0.2, 0.2, 3.0, "token-mean")
    # token 0: A=+1, r=1.5: max(-1.5, -1.2) = -1.2 (clip active)
    # token 1: A=+1, r=0.9: max(-0.9, -0.9) = -0.9
    # token 2: A=-1, r=0.5: max(0.5, 0.8) = 0.8 (clip active); dual cap 3 not reached
    # token 3: A=-1, r=4.0: max(4.0, 1.2) = 4.0, capped by dual clip at 3.0
    # token-mean: (-1.2 - 0.9 + 0.8 + 3.0) / 4 = 0.425
    assert loss.item() == pytest.approx(0.425, abs=1e-6)
    assert clipfrac.item() == pytest.approx(0.5)  # tokens 0 and 2
    assert clipfrac_lower.item() == pytest.approx(0.25)  # token 3
    # ppo_kl = mean(old - new) = -ln(1.5 * 0.9 * 0.5 * 4) / 4 = -ln(2.7) / 4
    assert kl.item() == pytest.approx(-math.log(2.7) / 4, abs=1e-6)
    loss.backward()
    # only token 1 is unclipped: d/dlogp of -A * r / 4 = -0.9 / 4; clipped tokens get no gradient
    assert new.grad.flatten().tolist() == pytest.approx([0.0, -0.225, 0.0, 0.0], abs=1e-6)


def test_asymmetric_clip_high():
    new = RATIO.log()
    loss, clipfrac, _, _ = compute_policy_loss(OLD, new, ADV, MASK, 0.2, 0.28, 3.0, "token-mean")
    # token 0 now clipped at 1.28: (-1.28 - 0.9 + 0.8 + 3.0) / 4 = 0.405
    assert loss.item() == pytest.approx(0.405, abs=1e-6)
    assert clipfrac.item() == pytest.approx(0.5)


def test_dual_clip_bound_changes_result():
    new = RATIO.log()
    loss, _, _, lower = compute_policy_loss(OLD, new, ADV, MASK, 0.2, 0.2, 5.0, "token-mean")
    # cap 5 no longer binds token 3 (4.0): (-1.2 - 0.9 + 0.8 + 4.0) / 4 = 0.675
    assert loss.item() == pytest.approx(0.675, abs=1e-6) and lower.item() == 0.0


def test_masked_tokens_and_agg_modes():
    new = torch.cat([RATIO.log(), torch.tensor([[30.0, 0.0, 0.0, 0.0]])])  # row 2: huge ratio but masked
    old = torch.zeros(2, 4)
    adv = torch.cat([ADV, torch.ones(1, 4)])
    mask = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])
    tm, _, kl, _ = compute_policy_loss(old, new, adv, mask, 0.2, 0.2, 3.0, "token-mean")
    assert tm.item() == pytest.approx(0.425, abs=1e-6) and torch.isfinite(kl)
    # per-token losses of row 1 sum to 1.7; the fully masked row is left out of the row mean
    assert compute_policy_loss(old, new, adv, mask, loss_agg_mode="seq-mean-token-sum")[0].item() == pytest.approx(1.7)
    assert compute_policy_loss(old, new, adv, mask, loss_agg_mode="seq-mean-token-mean")[0].item() == pytest.approx(0.425)
    assert compute_policy_loss(old, new, adv, mask, loss_agg_mode="seq-mean-token-sum-norm")[0].item() == pytest.approx(1.7 / 4)
    empty = compute_policy_loss(old, new, adv, torch.zeros(2, 4))
    assert all(v.item() == 0.0 for v in empty)


def test_bad_bounds():
    with pytest.raises(ValueError, match="clip_ratio_c=1.0 must be > 1"):
        compute_policy_loss(OLD, OLD, ADV, MASK, clip_ratio_c=1.0)
    with pytest.raises(ValueError, match="clip ratios"):
        compute_policy_loss(OLD, OLD, ADV, MASK, clip_ratio_low=-0.1)
