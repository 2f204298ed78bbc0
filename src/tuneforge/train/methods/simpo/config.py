"""Settings of the simpo method (validated as `method:` in the run config)."""

from tuneforge.config.methods import SimPOConfig

__all__ = ["SimPOConfig"]
