"""GRPO (Shao et al. 2024, "DeepSeekMath", eq. 3 and 21): PPO's clipped objective with
advantages relative to a group of completions of the same prompt, and a KL penalty.

For G completions of one prompt with rewards r_1..r_G, the advantage of every token of
completion i is

    A_i = (r_i - mean(r)) / (std(r) + eps)          (std: unbiased, as in TRL)

and the loss of completion i averages over its tokens t

    ratio_t = pi(o_t) / pi_old(o_t)
    L_i = mean_t [ -min(ratio_t A_i, clip(ratio_t, 1 - e, 1 + e) A_i) + beta KL_t ]
    KL_t = pi_ref(o_t)/pi(o_t) - log(pi_ref(o_t)/pi(o_t)) - 1     (Schulman's k3 estimator)
"""

from __future__ import annotations

import torch

from tuneforge.train.policy_gradient import clipped_policy_loss, k3_kl, per_row_mean

EPS = 1e-4
__all__ = ["clipped_policy_loss", "group_advantages", "k3_kl", "per_row_mean"]


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True) -> torch.Tensor:
    """[G * P] rewards in prompt-major groups -> [G * P] advantages."""
    groups = rewards.view(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (groups.std(dim=1, keepdim=True) + EPS)
    return centred.view(-1)
