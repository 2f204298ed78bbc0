"""What a training method declares about itself, once, in its own folder.

Each `train/methods/<name>/__init__.py` defines `METHOD = Method(...)`; the registry
(registry.py) collects them, and the `method:` config union, the recipe table and the
data kind `tuneforge data validate --method` checks are all derived from it. A
declaration imports only its config class (pydantic, no torch), so reading and
validating configs stays light; the recipe is imported when training starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any, get_args

from pydantic import BaseModel


@dataclass(frozen=True)
class Method:
    config: type[BaseModel]
    """Its `method:` section; the `name` literal of this class is the method's name."""
    data: str
    """The kind of example it learns from: one of tuneforge.data.kinds.KINDS."""
    recipe: str
    """'module:function' of its recipe, `fn(cfg, resume=False) -> summary`."""
    summary: str
    """One line for listings and help."""
    language_head: bool = True
    """Whether the model keeps its language-model head (a reward model's is replaced by
    a scalar score): replay and EWC measure the log-likelihood of general text with it."""

    @property
    def name(self) -> str:
        (name,) = get_args(self.config.model_fields["name"].annotation)
        return name

    def load_recipe(self) -> Callable[..., dict[str, Any]]:
        module, _, function = self.recipe.partition(":")
        return getattr(import_module(module), function)
