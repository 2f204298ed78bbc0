"""One config per training method, selected by `method.name`.

Each method's folder re-exports its class (train/methods/<name>/config.py); they live
here so the run config can validate `method:` without importing training code.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat

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


MethodConfig = SFTConfig | DPOConfig | ORPOConfig | SimPOConfig | KTOConfig | RewardConfig
