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

EPS = 1e-4


def group_advantages(rewards: torch.Tensor, group_size: int, scale: bool = True) -> torch.Tensor:
    """[G * P] rewards in prompt-major groups -> [G * P] advantages."""
    groups = rewards.view(-1, group_size)
    centred = groups - groups.mean(dim=1, keepdim=True)
    if scale:
        centred = centred / (groups.std(dim=1, keepdim=True) + EPS)
    return centred.view(-1)


def clipped_policy_loss(
    logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(per-token clipped policy-gradient loss, per-token 1.0 where the clip was active)."""
    ratio = torch.exp(logps - old_logps)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - epsilon, 1 + epsilon) * advantages
    return -torch.min(unclipped, clipped), (clipped < unclipped).float().detach()


def k3_kl(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Per-token non-negative KL(pi || pi_ref) estimate."""
    delta = ref_logps - logps
    return torch.exp(delta) - delta - 1


def per_row_mean(values: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Mean of per-token values within each row: [tokens] -> [rows]."""
    sums = torch.zeros(n_rows, device=values.device, dtype=values.dtype).index_add(0, rows, values)
    counts = torch.zeros(n_rows, device=values.device).index_add(0, rows, torch.ones_like(values))
    return sums / counts.clamp(min=1)
