"""DPO and its variants, on per-sequence log-probabilities of the replies.

Notation: for a pair, pi_c and pi_r are the policy's summed log-probabilities of the
chosen and rejected reply, ref_c and ref_r the reference model's, and

    h = (pi_c - ref_c) - (pi_r - ref_r)

the difference of the two implicit rewards divided by beta. Every loss is per pair
(shape [B]); the recipe sums them and the loop divides by the pairs in the step.

- sigmoid (Rafailov et al. 2023, "Direct Preference Optimization", eq. 7):
      L = -log sigma(beta h)
  with label smoothing eps it becomes conservative DPO (cDPO, Mitchell 2023):
      L = -(1 - eps) log sigma(beta h) - eps log sigma(-beta h)
- robust (Chowdhury et al. 2024, "Provably Robust DPO", eq. 8): an unbiased loss under
  preference labels flipped with probability eps:
      L = [-(1 - eps) log sigma(beta h) + eps log sigma(-beta h)] / (1 - 2 eps)
- hinge (SLiC, Zhao et al. 2023):  L = max(0, 1 - beta h)
- ipo (Azar et al. 2023, "A General Theoretical Paradigm ...", eq. 17):
      L = (h - 1 / (2 beta))^2
  on log-probabilities averaged per reply token, as its authors and TRL do, so that
  beta means the same for short and long replies;
- reference_free: sigmoid with ref_c = ref_r = 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

LOSSES = ("sigmoid", "robust", "hinge", "ipo", "reference_free")


@dataclass
class PairLogps:
    """Summed reply log-probabilities and reply lengths of a batch of pairs, each [B]."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor


def dpo_loss(
    policy: PairLogps,
    reference: PairLogps | None,
    beta: float,
    loss: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pair loss, chosen reward, rejected reward); rewards are beta x log-ratios,
    detached, for the metrics. `reference` may be None only for reference_free."""
    if loss == "reference_free" or reference is None:
        if loss != "reference_free":
            raise ValueError(f"the {loss!r} loss needs reference log-probabilities")
        zeros = torch.zeros_like(policy.chosen)
        reference = PairLogps(zeros, zeros, policy.chosen_tokens, policy.rejected_tokens)
    chosen_ratio = policy.chosen - reference.chosen
    rejected_ratio = policy.rejected - reference.rejected
    h = chosen_ratio - rejected_ratio
    eps = label_smoothing
    if loss in ("sigmoid", "reference_free"):
        per_pair = -(1 - eps) * F.logsigmoid(beta * h) - eps * F.logsigmoid(-beta * h)
    elif loss == "robust":
        per_pair = (-(1 - eps) * F.logsigmoid(beta * h) + eps * F.logsigmoid(-beta * h)) / (
            1 - 2 * eps
        )
    elif loss == "hinge":
        per_pair = torch.relu(1 - beta * h)
    elif loss == "ipo":
        mean_h = chosen_ratio / policy.chosen_tokens - rejected_ratio / policy.rejected_tokens
        per_pair = (mean_h - 1 / (2 * beta)) ** 2
    else:
        raise ValueError(f"unknown DPO loss {loss!r}; expected one of {LOSSES}")
    return per_pair, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()
