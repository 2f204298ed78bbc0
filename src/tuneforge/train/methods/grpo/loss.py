"""GRPO (Shao et al. 2024, "DeepSeekMath", eq. 3 and 21): PPO's clipped objective with
advantages relative to a group of completions of the same prompt, and a KL penalty.

For G completions of one prompt with rewards r_1..r_G, the advantage of every token of
completion i is

    A_i = (r_i - mean(r)) / (std(r) + eps)          (std: unbiased, as in TRL)

and the loss of completion i averages over its tokens t

    ratio_t = pi(o_t) / pi_old(o_t)
    L_i = mean_t [ -min(ratio_t A_i, clip(ratio_t, 1 - e, 1 + e) A_i) + beta KL_t ]
    KL_t = pi_ref(o_t)/pi(o_t) - log(pi_ref(o_t)/pi(o_t)) - 1     (Schulman's k3 estimator)

With one update per rollout the sampler is the policy being updated, so pi_old is pi
with its gradient stopped: the ratio is 1 and its gradient is the plain policy gradient
A_i grad log pi(o_t). Without a reference model the KL term is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tuneforge.train.policy_gradient import clipped_policy_loss, k3_kl, per_row_mean

EPS = 1e-4
__all__ = [
    "GRPOTerms",
    "clipped_policy_loss",
    "group_advantages",
    "grpo_loss",
    "k3_kl",
    "per_row_mean",
]


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True) -> torch.Tensor:
    """[G * P] rewards in prompt-major groups -> [G * P] advantages."""
    groups = rewards.view(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (groups.std(dim=1, keepdim=True) + EPS)
    return centred.view(-1)


@dataclass
class GRPOTerms:
    per_row: torch.Tensor  # [rows] L_i: mean over the completion's tokens of policy + beta kl
    policy: torch.Tensor  # [tokens] clipped surrogate
    kl: torch.Tensor  # [tokens] k3 KL to the reference (zeros without one)
    clipped: torch.Tensor  # [tokens] 1.0 where the clip was active


def grpo_loss(
    logps: torch.Tensor,
    old_logps: torch.Tensor | None,
    ref_logps: torch.Tensor | None,
    advantages: torch.Tensor,
    rows: torch.Tensor,
    n_rows: int,
    epsilon: float,
    beta: float,
) -> GRPOTerms:
    """The GRPO loss of each completion. Per-token tensors are flat [tokens] in row-major
    order, `rows` gives each token's row and `advantages` is per row [n_rows].
    `old_logps` None: one update per rollout, the sampler is this policy."""
    old = logps.detach() if old_logps is None else old_logps
    policy, clipped = clipped_policy_loss(logps, old, advantages[rows], epsilon)
    if ref_logps is None:
        kl, per_token = torch.zeros_like(logps), policy
    else:
        kl = k3_kl(logps, ref_logps)
        per_token = policy + beta * kl
    return GRPOTerms(per_row_mean(per_token, rows, n_rows), policy, kl, clipped)
