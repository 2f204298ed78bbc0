"""KTO (Ethayarajh et al. 2024, "KTO: Model Alignment as Prospect Theoretic
Optimization", eq. 8): unpaired replies labelled desirable or undesirable.

With r = log pi(y|x) - log pi_ref(y|x) and the reference point z0, an estimate of
KL(pi || pi_ref) clamped at 0 and not back-propagated,

    desirable:    L = lambda_D * (1 - sigma(beta (r - z0)))
    undesirable:  L = lambda_U * (1 - sigma(beta (z0 - r)))

z0 comes from mismatched pairs: the batch's replies scored against other examples'
prompts (x_i, y_{i+1}), whose log-ratio averages to a KL estimate.
"""

from __future__ import annotations

import torch


def kto_loss(
    policy: torch.Tensor,
    reference: torch.Tensor,
    desirable: torch.Tensor,
    kl_estimate: torch.Tensor,
    beta: float,
    desirable_weight: float = 1.0,
    undesirable_weight: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-example loss, reward beta x r detached); policy/reference are summed
    log-probs [B], desirable a bool mask [B], kl_estimate a scalar."""
    z0 = kl_estimate.detach().clamp(min=0)
    ratio = policy - reference
    good = desirable_weight * (1 - torch.sigmoid(beta * (ratio - z0)))
    bad = undesirable_weight * (1 - torch.sigmoid(beta * (z0 - ratio)))
    return torch.where(desirable, good, bad), beta * ratio.detach()
