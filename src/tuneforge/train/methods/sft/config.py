"""SFT takes no settings beyond the shared sections; its name selects the method."""

from __future__ import annotations

from typing import Literal

from tuneforge.config.base import Section as _Section


class SFTConfig(_Section):
    name: Literal["sft"] = "sft"
    """Training method."""
