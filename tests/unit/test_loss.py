"""The SFT loss against hand-derived numbers.

L_sum = - sum_t log softmax(z_t)[y_t]
"""

from __future__ import annotations

import math

import pytest
import torch

from tuneforge.train.methods.sft.loss import token_cross_entropy


def test_uniform_logits_cost_log_vocab_per_token():
    loss, _ = token_cross_entropy(torch.zeros(3, 4), torch.tensor([0, 1, 2]))
    assert loss.item() == pytest.approx(3 * math.log(4))


def test_hand_derived_sum_and_correct_count():
    # Row 1: softmax([ln 3, 0]) = [3/4, 1/4], target 0 -> -ln(3/4), argmax right.
    # Row 2: softmax([0, ln 2]) = [1/3, 2/3], target 0 -> -ln(1/3), argmax wrong.
    logits = torch.tensor([[math.log(3), 0.0], [0.0, math.log(2)]])
    loss, correct = token_cross_entropy(logits, torch.tensor([0, 0]))
    assert loss.item() == pytest.approx(-math.log(3 / 4) - math.log(1 / 3))
    assert correct == 1


def test_computed_in_float32_for_half_logits():
    logits = torch.randn(5, 1000, generator=torch.Generator().manual_seed(0))
    targets = torch.arange(5)
    full, _ = token_cross_entropy(logits, targets)
    half, _ = token_cross_entropy(logits.bfloat16(), targets)
    assert half.dtype == torch.float32
    assert half.item() == pytest.approx(full.item(), rel=1e-2)
