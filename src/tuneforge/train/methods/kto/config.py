"""Settings of the kto method (validated as `method:` in the run config)."""

from tuneforge.config.methods import KTOConfig

__all__ = ["KTOConfig"]
