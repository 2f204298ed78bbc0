"""Training: the shared loop and one recipe per method (train/methods/<name>/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuneforge.config import RunConfig


def train(cfg: RunConfig, resume: bool = False) -> dict[str, Any]:
    """Run the method named in cfg.method; returns the run summary."""
    from tuneforge.train.methods.registry import METHODS

    return METHODS[cfg.method.name].load_recipe()(cfg, resume=resume)
