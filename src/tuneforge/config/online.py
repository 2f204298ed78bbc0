"""Settings shared by the methods that learn from their own samples (grpo, ppo): where
rewards come from, how completions are sampled, and the clipped update."""

from __future__ import annotations

from typing import Any

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from tuneforge.config.base import Section as _Section


class OnlineMethodConfig(_Section):
    """Settings shared by the methods that learn from their own samples."""

    reward_function: str | None = None
    """A Python reward, 'module:function' (e.g. tuneforge.rewards:json_valid)."""
    reward_kwargs: dict[str, Any] = {}
    """Keyword arguments passed to reward_function, e.g. an OpenAI grader object
    (`grader:` for tuneforge.graders.reward:grade_reward). A key may not also be a
    column of the training records: which one the function meant would be a guess."""
    reward_model: str | None = None
    """A trained reward model: the run directory of a `method: reward` run."""
    max_new_tokens: PositiveInt = 128
    """Longest completion sampled per prompt."""
    temperature: float = Field(1.0, ge=0)
    """Sampling temperature of the rollouts."""
    beta: float = Field(0.04, ge=0)
    """Weight of the KL penalty to the reference model (0: no reference needed)."""
    epsilon: PositiveFloat = 0.2
    """PPO clip range of the probability ratio."""
    updates_per_rollout: PositiveInt = 1
    """Optimizer steps on each batch of rollouts (PPO epochs)."""

    @model_validator(mode="after")
    def _one_reward(self):
        if (self.reward_function is None) == (self.reward_model is None):
            raise ValueError("set exactly one of reward_function and reward_model")
        if self.reward_kwargs and self.reward_function is None:
            raise ValueError("reward_kwargs are passed to reward_function, which is not set")
        taken = sorted({"prompts", "completions"} & set(self.reward_kwargs))
        if taken:
            raise ValueError(f"reward_kwargs {taken}: the reward function's own arguments")
        return self
