"""Settings of KTO (validated as `method:` in the run config)."""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveFloat

from tuneforge.config.base import Section as _Section


class KTOConfig(_Section):
    name: Literal["kto"]
    beta: PositiveFloat = 0.1
    desirable_weight: PositiveFloat = 1.0
    undesirable_weight: PositiveFloat = 1.0
    """Raise one of the two when the data is unbalanced, so lambda_D n_D ~ lambda_U n_U."""
    precompute_reference: bool = True
