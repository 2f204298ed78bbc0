"""SimPO (Meng et al. 2024, "SimPO: Simple Preference Optimization with a
Reference-Free Reward", eq. 6): the implicit reward is the length-normalised
log-probability, and a target margin gamma separates the replies:

    L = -log sigma(beta / |y_c| * log pi(y_c|x) - beta / |y_r| * log pi(y_r|x) - gamma)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def simpo_loss(
    chosen_mean: torch.Tensor, rejected_mean: torch.Tensor, beta: float, gamma: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(per-pair loss, chosen reward, rejected reward) from mean log-probs, [B]."""
    chosen_reward, rejected_reward = beta * chosen_mean, beta * rejected_mean
    loss = -F.logsigmoid(chosen_reward - rejected_reward - gamma)
    return loss, chosen_reward.detach(), rejected_reward.detach()
