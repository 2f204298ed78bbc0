"""Settings of the reward method (validated as `method:` in the run config)."""

from tuneforge.config.methods import RewardConfig

__all__ = ["RewardConfig"]
