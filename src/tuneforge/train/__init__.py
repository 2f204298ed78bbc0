"""Training: the shared loop and one recipe per method."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from tuneforge.config import RunConfig

RECIPES = {
    "sft": "tuneforge.train.methods.sft.recipe:train_sft",
    "dpo": "tuneforge.train.methods.dpo.recipe:train_dpo",
    "orpo": "tuneforge.train.methods.orpo.recipe:train_orpo",
    "simpo": "tuneforge.train.methods.simpo.recipe:train_simpo",
    "kto": "tuneforge.train.methods.kto.recipe:train_kto",
    "reward": "tuneforge.train.methods.reward.recipe:train_reward",
    "grpo": "tuneforge.train.methods.grpo.recipe:train_grpo",
    "ppo": "tuneforge.train.methods.ppo.recipe:train_ppo",
}


def train(cfg: RunConfig, resume: bool = False) -> dict[str, Any]:
    """Run the method named in cfg.method; returns the run summary."""
    if cfg.method.name not in RECIPES:
        from tuneforge.errors import ConfigError

        raise ConfigError(f"method.name: {cfg.method.name!r} has no recipe yet")
    module, _, function = RECIPES[cfg.method.name].partition(":")
    return getattr(import_module(module), function)(cfg, resume=resume)
