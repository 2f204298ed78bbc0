"""Settings of SimPO (validated as `method:` in the run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat

from tuneforge.config.base import Section as _Section


class SimPOConfig(_Section):
    name: Literal["simpo"]
    beta: PositiveFloat = 2.0
    """Scale of the length-normalised reward."""
    gamma: float = Field(0.5, ge=0)
    """Target reward margin between chosen and rejected."""
