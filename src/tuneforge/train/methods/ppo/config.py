"""Settings of the ppo method (validated as `method:` in the run config)."""

from tuneforge.config.methods import PPOConfig

__all__ = ["PPOConfig"]
