"""ORPO (Hong et al. 2024, "ORPO: Monolithic Preference Optimization without Reference
Model", eq. 6-7): SFT on the chosen reply plus an odds-ratio term, no reference model.

With P_c, P_r the per-token mean log-probabilities of the replies,

    log odds(y) = P - log(1 - exp(P))
    L = NLL_c - lambda * log sigma(log odds(y_c) - log odds(y_r))

where NLL_c is the chosen reply's mean per-token negative log-likelihood.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def orpo_loss(
    chosen_mean: torch.Tensor, rejected_mean: torch.Tensor, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-pair loss, per-pair odds-ratio term); inputs are mean log-probs, [B]."""
    # log(1 - exp(P)) for P < 0, computed stably as log(-expm1(P)).
    log_odds = (chosen_mean - torch.log(-torch.expm1(chosen_mean))) - (
        rejected_mean - torch.log(-torch.expm1(rejected_mean))
    )
    ratio_term = -F.logsigmoid(log_odds)
    return -chosen_mean + lam * ratio_term, ratio_term.detach()
