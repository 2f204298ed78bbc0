"""Supervised fine-tuning loss: summed next-token cross-entropy over trained tokens.

    L_sum = - sum_{t in T} log softmax(z_t)[y_t]

where T is the set of positions with a target. The loop divides the sums of all
micro-batches of one optimizer step by |T| over the whole step, so the gradient is the
per-token mean however the step is split into micro-batches.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def token_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, int]:
    """(summed loss, number of correct argmax predictions).

    logits: [n, vocab] rows for trained positions only; targets: [n] token ids.
    Computed in float32 whatever the model dtype, because log-softmax over a 50k
    vocabulary loses precision in bf16.
    """
    loss = F.cross_entropy(logits.float(), targets, reduction="sum")
    correct = int((logits.argmax(dim=-1) == targets).sum())
    return loss, correct
