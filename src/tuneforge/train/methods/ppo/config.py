"""Settings of PPO (validated as `method:` in the run config); the sampling and
reward settings it shares with GRPO are in config/online.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from tuneforge.config.online import OnlineMethodConfig


class PPOConfig(OnlineMethodConfig):
    name: Literal["ppo"]
    kl_target: float | None = Field(6.0, gt=0)
    """Adapt beta so the KL to the reference tracks this value (Ziegler et al. 2019);
    null keeps beta fixed."""
    gamma: float = Field(1.0, ge=0, le=1)
    """Discount of the per-token rewards."""
    lam: float = Field(0.95, ge=0, le=1)
    """GAE lambda."""
    value_clip: PositiveFloat = 0.2
    """Clip range of the value function update."""
    value_weight: PositiveFloat = 0.1
    """Weight of the value loss in the total loss."""
    whiten_rewards: bool = True
    """Normalise scores over each batch of rollouts before computing advantages."""
    updates_per_rollout: PositiveInt = 4
