"""Settings of the orpo method (validated as `method:` in the run config)."""

from tuneforge.config.methods import ORPOConfig

__all__ = ["ORPOConfig"]
