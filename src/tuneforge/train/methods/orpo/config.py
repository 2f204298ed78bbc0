"""Settings of ORPO (validated as `method:` in the run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat

from tuneforge.config.base import Section as _Section


class ORPOConfig(_Section):
    name: Literal["orpo"]
    beta: PositiveFloat = 0.1
    """Weight (lambda) of the odds-ratio term added to the SFT loss on the chosen reply."""
