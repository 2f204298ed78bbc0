"""Settings of GRPO (validated as `method:` in the run config); the sampling and
reward settings it shares with PPO are in config/online.py."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tuneforge.config.online import OnlineMethodConfig


class GRPOConfig(OnlineMethodConfig):
    name: Literal["grpo"]
    num_generations: int = Field(4, ge=2)
    """Completions sampled per prompt; advantages are relative to this group."""
    scale_rewards: bool = True
    """Divide group-centred rewards by the group's standard deviation."""
