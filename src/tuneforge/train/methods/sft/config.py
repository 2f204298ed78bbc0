"""SFT takes no settings beyond the shared sections; its name selects the recipe."""

from tuneforge.config.schema import MethodConfig as SFTConfig

__all__ = ["SFTConfig"]
