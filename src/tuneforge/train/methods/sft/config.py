"""SFT takes no settings beyond the shared sections; its name selects the recipe."""

from tuneforge.config.methods import SFTConfig

__all__ = ["SFTConfig"]
