"""Every preference loss against numbers worked out by hand.

The shared DPO example: policy log-probs chosen -10, rejected -15; reference -12 and
-14; so the chosen log-ratio is 2, the rejected -1, h = 3, and with beta 0.1, beta h = 0.3.
    -log sigma(0.3)  = log(1 + e^-0.3) = log 1.740818 = 0.554355
    -log sigma(-0.3) = 0.3 + 0.554355 = 0.854355
"""

from __future__ import annotations

import math

import pytest
import torch

from tuneforge.train.methods.dpo.loss import PairLogps, dpo_loss
from tuneforge.train.methods.kto.loss import kto_loss
from tuneforge.train.methods.orpo.loss import orpo_loss
from tuneforge.train.methods.reward.loss import bradley_terry_loss
from tuneforge.train.methods.simpo.loss import simpo_loss

POLICY = PairLogps(
    torch.tensor([-10.0]), torch.tensor([-15.0]), torch.tensor([4.0]), torch.tensor([2.0])
)
REFERENCE = PairLogps(
    torch.tensor([-12.0]), torch.tensor([-14.0]), torch.tensor([4.0]), torch.tensor([2.0])
)


def value(t: torch.Tensor) -> float:
    return float(t.item())


@pytest.mark.parametrize(
    ("loss", "smoothing", "expected"),
    [
        ("sigmoid", 0.0, 0.554355),
        # cDPO: 0.9 * 0.554355 + 0.1 * 0.854355 = 0.554355 + 0.1 * 0.3
        ("sigmoid", 0.1, 0.584355),
        # rDPO: (0.9 * 0.554355 - 0.1 * 0.854355) / 0.8 = 0.413484 / 0.8
        ("robust", 0.1, 0.516855),
        # max(0, 1 - 0.3)
        ("hinge", 0.0, 0.7),
        # per-token ratios: 2/4 - (-1)/2 = 1.0; (1.0 - 1/(2*0.1))^2 = (1 - 5)^2
        ("ipo", 0.0, 16.0),
        # no reference: h = -10 - (-15) = 5; -log sigma(0.5) = log(1 + e^-0.5) = log 1.606531
        ("reference_free", 0.0, 0.474077),
    ],
)
def test_dpo_losses(loss, smoothing, expected):
    per_pair, chosen_reward, rejected_reward = dpo_loss(POLICY, REFERENCE, 0.1, loss, smoothing)
    assert value(per_pair) == pytest.approx(expected, abs=1e-5)
    if loss != "reference_free":
        assert (value(chosen_reward), value(rejected_reward)) == pytest.approx((0.2, -0.1))


def test_dpo_needs_a_reference_except_reference_free():
    with pytest.raises(ValueError, match="needs reference"):
        dpo_loss(POLICY, None, 0.1, "sigmoid")


def test_dpo_gradient_pushes_chosen_up_and_rejected_down():
    chosen = torch.tensor([-10.0], requires_grad=True)
    rejected = torch.tensor([-15.0], requires_grad=True)
    policy = PairLogps(chosen, rejected, POLICY.chosen_tokens, POLICY.rejected_tokens)
    dpo_loss(policy, REFERENCE, 0.1)[0].sum().backward()
    # dL/dpi_c = -beta * sigma(-beta h) = -0.1 * sigma(-0.3) = -0.1 * 0.425557
    assert value(chosen.grad) == pytest.approx(-0.0425557, abs=1e-6)
    assert value(rejected.grad) == pytest.approx(0.0425557, abs=1e-6)


def test_orpo():
    """Mean log-probs log 0.5 and log 0.25: odds 1 and 1/3, log odds ratio log 3;
    -log sigma(log 3) = log(1 + 1/3) = 0.287682; loss = 0.693147 + 0.1 * 0.287682."""
    loss, ratio_term = orpo_loss(torch.tensor([math.log(0.5)]), torch.tensor([math.log(0.25)]), 0.1)
    assert value(ratio_term) == pytest.approx(0.287682, abs=1e-6)
    assert value(loss) == pytest.approx(0.721915, abs=1e-6)


def test_simpo():
    """beta 2, gamma 0.5, mean log-probs -1 and -2: rewards -2 and -4, so
    -log sigma(-2 + 4 - 0.5) = log(1 + e^-1.5) = log 1.223130 = 0.201413."""
    loss, chosen, rejected = simpo_loss(torch.tensor([-1.0]), torch.tensor([-2.0]), 2.0, 0.5)
    assert value(loss) == pytest.approx(0.201413, abs=1e-6)
    assert (value(chosen), value(rejected)) == (-2.0, -4.0)


def test_kto():
    """Log-ratios +1 (desirable) and -1 (undesirable), beta 0.1, KL estimate 0.5:
    desirable 1 - sigma(0.1 * (1 - 0.5)) = 1 - sigma(0.05) = 1 - 0.512497 = 0.487503;
    undesirable 1 - sigma(0.1 * (0.5 + 1)) = 1 - sigma(0.15) = 1 - 0.537430 = 0.462570,
    weighted 2.0. A negative KL estimate is clamped to 0: 1 - sigma(0.1) = 0.475021."""
    policy, reference = torch.tensor([-10.0, -10.0]), torch.tensor([-11.0, -9.0])
    desirable = torch.tensor([True, False])
    loss, reward = kto_loss(policy, reference, desirable, torch.tensor(0.5), 0.1, 1.0, 2.0)
    assert loss.tolist() == pytest.approx([0.487503, 2 * 0.462570], abs=1e-6)
    assert reward.tolist() == pytest.approx([0.1, -0.1])
    clamped, _ = kto_loss(policy, reference, desirable, torch.tensor(-0.3), 0.1)
    assert value(clamped[0]) == pytest.approx(0.475021, abs=1e-6)


def test_bradley_terry_with_and_without_margin():
    """Scores 2 and 0.5: -log sigma(1.5) = 0.201413; with margin 1, -log sigma(0.5) = 0.474077."""
    chosen, rejected = torch.tensor([2.0, 0.0]), torch.tensor([0.5, 1.0])
    loss, correct = bradley_terry_loss(chosen, rejected)
    assert value(loss[0]) == pytest.approx(0.201413, abs=1e-6)
    assert correct.tolist() == [1.0, 0.0]
    with_margin, _ = bradley_terry_loss(chosen, rejected, torch.tensor([1.0, 0.0]))
    assert value(with_margin[0]) == pytest.approx(0.474077, abs=1e-6)
