"""Settings of DPO and its variants (validated as `method:` in the run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat

from tuneforge.config.base import Section as _Section


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
