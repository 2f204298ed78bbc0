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

Each variant is one small function of the margins, beta and eps in `LOSSES`, keyed by
the values the `loss` setting of the dpo method accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class PairLogps:
    """Summed reply log-probabilities and reply lengths of a batch of pairs, each [B]."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor


@dataclass
class Margins:
    """What the variants are computed from, each [B]: h on summed log-ratios, and h on
    log-ratios averaged per reply token (IPO's)."""

    summed: torch.Tensor
    per_token: torch.Tensor


def sigmoid(m: Margins, beta: float, eps: float) -> torch.Tensor:
    return -(1 - eps) * F.logsigmoid(beta * m.summed) - eps * F.logsigmoid(-beta * m.summed)


def robust(m: Margins, beta: float, eps: float) -> torch.Tensor:
    # The flipped-label term enters with a plus sign and the sum is divided by 1 - 2 eps:
    # under labels flipped with probability eps its expectation is the clean-label loss.
    h = m.summed
    return (-(1 - eps) * F.logsigmoid(beta * h) + eps * F.logsigmoid(-beta * h)) / (1 - 2 * eps)


def hinge(m: Margins, beta: float, eps: float) -> torch.Tensor:  # eps: unused
    return torch.relu(1 - beta * m.summed)


def ipo(m: Margins, beta: float, eps: float) -> torch.Tensor:  # eps: unused
    # Regresses the margin to 1 / (2 beta) instead of pushing it to infinity; per-token
    # averages keep that target independent of the reply lengths.
    return (m.per_token - 1 / (2 * beta)) ** 2


LOSSES: dict[str, Callable[[Margins, float, float], torch.Tensor]] = {
    "sigmoid": sigmoid,
    "robust": robust,
    "hinge": hinge,
    "ipo": ipo,
    "reference_free": sigmoid,  # dpo_loss sets the reference log-probs to 0
}


def dpo_loss(
    policy: PairLogps,
    reference: PairLogps | None,
    beta: float,
    loss: str = "sigmoid",
    label_smoothing: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pair loss, chosen reward, rejected reward); rewards are beta x log-ratios,
    detached, for the metrics. `reference` may be None only for reference_free."""
    if loss not in LOSSES:
        raise ValueError(f"unknown DPO loss {loss!r}; expected one of {', '.join(LOSSES)}")
    if loss == "reference_free" or reference is None:
        if loss != "reference_free":
            raise ValueError(f"the {loss!r} loss needs reference log-probabilities")
        zeros = torch.zeros_like(policy.chosen)
        reference = PairLogps(zeros, zeros, policy.chosen_tokens, policy.rejected_tokens)
    chosen_ratio = policy.chosen - reference.chosen
    rejected_ratio = policy.rejected - reference.rejected
    margins = Margins(
        summed=chosen_ratio - rejected_ratio,
        per_token=chosen_ratio / policy.chosen_tokens - rejected_ratio / policy.rejected_tokens,
    )
    per_pair = LOSSES[loss](margins, beta, label_smoothing)
    return per_pair, beta * chosen_ratio.detach(), beta * rejected_ratio.detach()
