"""PPO for language models as in InstructGPT (Ouyang et al. 2022) after Ziegler et al.
2019 and Stiennon et al. 2020.

Per-token rewards: a KL penalty at every token and the score at the last one,

    r_t = -beta (log pi_old(o_t) - log pi_ref(o_t))  +  [t = T] score

Advantages by GAE (Schulman et al. 2016, eq. 16) within each completion,

    delta_t = r_t + gamma V_{t+1} - V_t,   A_t = delta_t + gamma lambda A_{t+1},   V_{T+1} = 0

returns R_t = A_t + V_t, and a clipped value loss

    L_V = 1/2 max((V - R)^2, (V_old + clip(V - V_old, -c, c) - R)^2).

The policy loss is the clipped surrogate of train/policy_gradient.py, and the loss of a
completion averages its tokens,

    L_i = mean_t [ L_policy,t + w L_V,t ]       (w: value_weight).

Old log-probs, old values, returns and advantages are fixed at sampling time, so several
updates on one rollout keep comparing with the policy and critic that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tuneforge.train.policy_gradient import clipped_policy_loss, per_row_mean


def token_rewards(
    scores: torch.Tensor, old_logps: torch.Tensor, ref_logps: torch.Tensor | None,
    rows: torch.Tensor, beta: float,
) -> torch.Tensor:  # fmt: skip
    """[tokens]: -beta x per-token KL, plus each row's score on its last token."""
    rewards = torch.zeros_like(old_logps)
    if ref_logps is not None:
        rewards = -beta * (old_logps - ref_logps)
    last = torch.ones_like(rows, dtype=torch.bool)
    last[:-1] = rows[1:] != rows[:-1]
    return rewards + last.float() * scores[rows]


def gae(
    rewards: torch.Tensor, values: torch.Tensor, rows: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(advantages, returns) per token; tokens are grouped by row, in order."""
    advantages = torch.zeros_like(rewards)
    running, next_value = 0.0, 0.0
    for t in range(len(rewards) - 1, -1, -1):
        if t == len(rewards) - 1 or rows[t + 1] != rows[t]:
            running, next_value = 0.0, 0.0  # a new row ends here
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        advantages[t] = running
        next_value = values[t]
    return advantages, advantages + values


def clipped_value_loss(
    values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, clip: float
) -> torch.Tensor:
    """[tokens] L_V: the worse of the new value's error and that of a value kept within
    `clip` of the sampling-time one, so moving the critic further gains nothing."""
    clipped = old_values + (values - old_values).clamp(-clip, clip)
    return 0.5 * torch.max((values - returns) ** 2, (clipped - returns) ** 2)


def whiten(values: torch.Tensor) -> torch.Tensor:
    """Zero mean, unit (unbiased) std; a single value has no spread and is kept as is."""
    return (values - values.mean()) / (values.std() + 1e-8) if len(values) > 1 else values


class AdaptiveKL:
    """Ziegler et al. 2019, section 2.2: beta grows when the KL overshoots the target
    and shrinks when it undershoots, proportionally and by at most 20% per horizon."""

    def __init__(self, beta: float, target: float | None, horizon: int = 10_000):
        self.beta, self.target, self.horizon = beta, target, horizon

    def update(self, kl: float, n_samples: int) -> None:
        if self.target is None:
            return
        error = max(-0.2, min(0.2, kl / self.target - 1))
        self.beta *= 1 + error * n_samples / self.horizon

    def state_dict(self) -> dict[str, float]:
        return {"beta": self.beta}

    def load_state_dict(self, state: dict[str, float]) -> None:
        self.beta = state["beta"]


@dataclass
class PPOTerms:
    per_row: torch.Tensor  # [rows] L_i: mean over the completion's tokens of policy + w value
    policy: torch.Tensor  # [tokens] clipped surrogate
    value: torch.Tensor  # [tokens] clipped value loss
    clipped: torch.Tensor  # [tokens] 1.0 where the policy clip was active


def ppo_loss(
    logps: torch.Tensor,
    values: torch.Tensor,
    old_logps: torch.Tensor,
    old_values: torch.Tensor,
    returns: torch.Tensor,
    advantages: torch.Tensor,
    rows: torch.Tensor,
    n_rows: int,
    epsilon: float,
    value_clip: float,
    value_weight: float,
) -> PPOTerms:
    """The PPO loss of each completion. Every input tensor is flat [tokens] in row-major
    order (advantages too: GAE's, per token) and `rows` gives each token's row."""
    policy, clipped = clipped_policy_loss(logps, old_logps, advantages, epsilon)
    value = clipped_value_loss(values, old_values, returns, value_clip)
    per_row = per_row_mean(policy + value_weight * value, rows, n_rows)
    return PPOTerms(per_row, policy, value, clipped)
