"""Settings of the dpo method (validated as `method:` in the run config)."""

from tuneforge.config.methods import DPOConfig

__all__ = ["DPOConfig"]
