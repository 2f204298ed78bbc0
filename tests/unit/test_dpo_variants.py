"""The DPO variants' table against the config and against numbers worked out by hand.

The example of test_preference_losses.py: policy log-probs chosen -10, rejected -15;
reference -12 and -14; replies of 4 and 2 tokens. The log-ratios are 2 and -1, so
h = 3 and beta h = 0.3 with beta 0.1; per token, 2/4 - (-1)/2 = 1.0.
    -log sigma(0.3)  = log(1 + e^-0.3) = 0.554355
    -log sigma(-0.3) = 0.3 + 0.554355 = 0.854355
"""

from __future__ import annotations

import typing

import pytest
import torch
from torch.testing import assert_close

from tuneforge.train.methods.dpo.config import DPOConfig
from tuneforge.train.methods.dpo.loss import LOSSES, Margins, PairLogps, dpo_loss


def pair(chosen: float, rejected: float) -> PairLogps:
    return PairLogps(
        torch.tensor([chosen]), torch.tensor([rejected]), torch.tensor([4.0]), torch.tensor([2.0])
    )


POLICY, REFERENCE = pair(-10.0, -15.0), pair(-12.0, -14.0)
MARGINS = Margins(summed=torch.tensor([3.0]), per_token=torch.tensor([1.0]))

HAND_VALUES = [
    ("sigmoid", 0.0, 0.554355),
    # cDPO: 0.9 * 0.554355 + 0.1 * 0.854355
    ("sigmoid", 0.1, 0.584355),
    # rDPO: (0.9 * 0.554355 - 0.1 * 0.854355) / (1 - 0.2) = 0.413484 / 0.8
    ("robust", 0.1, 0.516855),
    # with eps 0 it is plain DPO
    ("robust", 0.0, 0.554355),
    # max(0, 1 - 0.3); label smoothing does not enter
    ("hinge", 0.0, 0.7),
    ("hinge", 0.1, 0.7),
    # (1.0 - 1 / (2 * 0.1))^2 = (1 - 5)^2, on the per-token margin
    ("ipo", 0.0, 16.0),
    # the table's entry is sigmoid; dpo_loss is what drops the reference (next test)
    ("reference_free", 0.0, 0.554355),
]


def test_losses_are_the_config_choices():
    assert set(LOSSES) == set(typing.get_args(DPOConfig.model_fields["loss"].annotation))


@pytest.mark.parametrize(("loss", "eps", "expected"), HAND_VALUES)
def test_each_variant_by_hand(loss, eps, expected):
    assert_close(LOSSES[loss](MARGINS, 0.1, eps), torch.tensor([expected]))


@pytest.mark.parametrize(("loss", "eps", "expected"), HAND_VALUES[:-1])
def test_dpo_loss_dispatches_to_the_variant(loss, eps, expected):
    per_pair, chosen, rejected = dpo_loss(POLICY, REFERENCE, 0.1, loss, eps)
    assert_close(per_pair, torch.tensor([expected]))
    # rewards: beta x log-ratios, 0.1 x 2 and 0.1 x -1
    assert_close((chosen, rejected), (torch.tensor([0.2]), torch.tensor([-0.1])))


def test_reference_free_ignores_the_reference():
    """h = -10 - (-15) = 5; -log sigma(0.5) = log(1 + e^-0.5) = 0.474077, with or without
    a reference given; the rewards are beta x the policy's log-probs."""
    for reference in (None, REFERENCE):
        per_pair, chosen, rejected = dpo_loss(POLICY, reference, 0.1, "reference_free")
        assert_close(per_pair, torch.tensor([0.474077]))
        assert_close((chosen, rejected), (torch.tensor([-1.0]), torch.tensor([-1.5])))


@pytest.mark.parametrize("reference", [REFERENCE, None])
def test_unknown_loss_names_the_allowed_ones(reference):
    with pytest.raises(ValueError, match="unknown DPO loss 'exo'") as error:
        dpo_loss(POLICY, reference, 0.1, "exo")
    assert all(name in str(error.value) for name in LOSSES)
