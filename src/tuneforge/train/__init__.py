"""Training: the shared loop and one recipe per method (train/methods/<name>/)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tuneforge.log import info

if TYPE_CHECKING:
    from tuneforge.config import RunConfig


def train(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    """Run the method named in cfg.method; returns the run summary. `auto` epochs, batch
    size and learning rate are resolved first, from the number of training examples."""
    from tuneforge.train.methods.registry import METHODS

    cfg = resolve_auto_settings(cfg, log)
    return METHODS[cfg.method.name].load_recipe()(cfg, resume=resume)


def resolve_auto_settings(cfg: RunConfig, log=info) -> RunConfig:
    """cfg with train.epochs / batch_size / lr `auto` replaced (plan/auto.py's rules),
    each replacement logged with its rule; cfg itself when none is auto."""
    from tuneforge.data import read_examples
    from tuneforge.plan.auto import AUTO_KEYS, resolve_auto
    from tuneforge.train.methods.registry import METHODS

    train = cfg.train.model_dump()
    if not any(train[key] == "auto" for key in AUTO_KEYS):
        return cfg
    if cfg.data.train is None:
        return cfg  # the recipe says data.train is missing
    kind = METHODS[cfg.method.name].data
    examples = len(read_examples(cfg.data.train, kind=kind, format=cfg.data.format))
    n = max(1, examples - round(examples * cfg.data.validation_split))
    resolved, lines = resolve_auto(train, cfg.method.name, cfg.adapter.type, n)
    for line in lines:
        log(line)
    return cfg.model_copy(update={"train": cfg.train.model_copy(update=resolved)})
