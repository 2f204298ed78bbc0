"""Reward model loss: Bradley-Terry (Bradley & Terry 1952; as in InstructGPT, Ouyang et
al. 2022, eq. 1), with the optional margin of Llama 2 (Touvron et al. 2023, eq. 2):

    L = -log sigma(r(x, y_c) - r(x, y_r) - m)

where r is the model's scalar score and m >= 0 how much better the chosen reply is
(0 when the data gives no margin).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bradley_terry_loss(
    chosen: torch.Tensor, rejected: torch.Tensor, margin: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-pair loss, per-pair correctness 1.0/0.0); scores [B], margin [B] or None."""
    difference = chosen - rejected
    if margin is not None:
        difference = difference - margin
    return -F.logsigmoid(difference), (chosen > rejected).float()
