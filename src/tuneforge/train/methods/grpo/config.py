"""Settings of the grpo method (validated as `method:` in the run config)."""

from tuneforge.config.methods import GRPOConfig

__all__ = ["GRPOConfig"]
