"""Settings of reward-model training (validated as `method:` in the run config)."""

from __future__ import annotations

from typing import Literal

from tuneforge.config.base import Section as _Section


class RewardConfig(_Section):
    name: Literal["reward"]
    use_margin: bool = True
    """Subtract the pair's margin (from ranked scores), when the data has one."""
