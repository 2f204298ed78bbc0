"""One config per training method, selected by `method.name`.

Each method's folder re-exports its class (train/methods/<name>/config.py); they live
here so the run config can validate `method:` without importing training code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from tuneforge.config.base import Section as _Section


class SFTConfig(_Section):
    name: Literal["sft"] = "sft"
    """Training method."""


class DPOConfig(_Section):
    name: Literal["dpo"]
    loss: Literal["sigmoid", "robust", "hinge", "ipo", "reference_free"] = "sigmoid"
    """sigmoid (DPO; cDPO with label_smoothing), robust (rDPO), hinge (SLiC), ipo, or
    reference_free."""
    beta: PositiveFloat = 0.1
    """Strength of the pull towards the reference model (smaller: further from it)."""
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
    """Assumed share of flipped preference labels (cDPO for sigmoid, rDPO for robust)."""
    rpo_alpha: float | None = Field(None, ge=0)
    """Weight of an added NLL loss on the chosen reply (RPO); null for none."""
    precompute_reference: bool = True
    """Compute the reference log-probs once before training and cache them in the run:
    saves a forward pass per step, and for full fine-tuning the reference copy's memory."""


class ORPOConfig(_Section):
    name: Literal["orpo"]
    beta: PositiveFloat = 0.1
    """Weight (lambda) of the odds-ratio term added to the SFT loss on the chosen reply."""


class SimPOConfig(_Section):
    name: Literal["simpo"]
    beta: PositiveFloat = 2.0
    """Scale of the length-normalised reward."""
    gamma: float = Field(0.5, ge=0)
    """Target reward margin between chosen and rejected."""


class KTOConfig(_Section):
    name: Literal["kto"]
    beta: PositiveFloat = 0.1
    desirable_weight: PositiveFloat = 1.0
    undesirable_weight: PositiveFloat = 1.0
    """Raise one of the two when the data is unbalanced, so lambda_D n_D ~ lambda_U n_U."""
    precompute_reference: bool = True


class RewardConfig(_Section):
    name: Literal["reward"]
    use_margin: bool = True
    """Subtract the pair's margin (from ranked scores), when the data has one."""


class _OnlineConfig(_Section):
    """Settings shared by the methods that learn from their own samples."""

    reward_function: str | None = None
    """A Python reward, 'module:function' (e.g. tuneforge.rewards:json_valid)."""
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
        return self


class GRPOConfig(_OnlineConfig):
    name: Literal["grpo"]
    num_generations: int = Field(4, ge=2)
    """Completions sampled per prompt; advantages are relative to this group."""
    scale_rewards: bool = True
    """Divide group-centred rewards by the group's standard deviation."""


class PPOConfig(_OnlineConfig):
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


MethodConfig = (
    SFTConfig
    | DPOConfig
    | ORPOConfig
    | SimPOConfig
    | KTOConfig
    | RewardConfig
    | GRPOConfig
    | PPOConfig
)
