"""Training: the shared loop and one recipe per method."""

from __future__ import annotations

from typing import Any

from tuneforge.config import RunConfig


def train(cfg: RunConfig, resume: bool = False) -> dict[str, Any]:
    """Run the method named in cfg.method; returns the run summary."""
    from tuneforge.train.methods.sft.recipe import train_sft

    recipes = {"sft": train_sft}
    return recipes[cfg.method.name](cfg, resume=resume)
