"""Per-token pieces shared by the online methods (ppo, grpo)."""

from __future__ import annotations

import torch


def clipped_policy_loss(
    logps: torch.Tensor, old_logps: torch.Tensor, advantages: torch.Tensor, epsilon: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped surrogate (Schulman et al. 2017, eq. 7), per token:
        -min(ratio A, clip(ratio, 1 - e, 1 + e) A),  ratio = pi / pi_old,
    and 1.0 where the clip was active."""
    ratio = torch.exp(logps - old_logps)
    unclipped = ratio * advantages
    clipped = ratio.clamp(1 - epsilon, 1 + epsilon) * advantages
    return -torch.min(unclipped, clipped), (clipped < unclipped).float().detach()


def k3_kl(logps: torch.Tensor, ref_logps: torch.Tensor) -> torch.Tensor:
    """Per-token non-negative KL(pi || pi_ref) estimate (Schulman's k3):
    pi_ref/pi - log(pi_ref/pi) - 1."""
    delta = ref_logps - logps
    return torch.exp(delta) - delta - 1


def per_row_mean(values: torch.Tensor, rows: torch.Tensor, n_rows: int) -> torch.Tensor:
    """Mean of per-token values within each row: [tokens] -> [rows]."""
    sums = torch.zeros(n_rows, device=values.device, dtype=values.dtype).index_add(0, rows, values)
    counts = torch.zeros(n_rows, device=values.device).index_add(0, rows, torch.ones_like(values))
    return sums / counts.clamp(min=1)


def rollout_metrics(
    rewards: torch.Tensor, rows: torch.Tensor, n_rows: int, **per_token: torch.Tensor
) -> dict[str, float]:
    """The online methods' metrics, each summed over the rows for the loop to average:
    reward_mean, response_length, and the per-row mean of every per-token tensor given
    (kl=..., entropy=..., policy_loss=...)."""
    metrics = {"reward_mean": float(rewards.sum()), "response_length": float(len(rows))}
    for name, values in per_token.items():
        metrics[name] = float(per_row_mean(values.detach(), rows, n_rows).sum())
    return metrics
