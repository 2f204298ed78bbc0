"""The `method:` section: a union of every method's config class, told apart by `name`.

Each class lives in its method's folder (train/methods/<name>/config.py) and is found
through the method's declaration, so this union never needs editing when a method is
added. The declarations import pydantic only, never training code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Union

from pydantic import BaseModel

from tuneforge.train.methods.registry import METHODS

METHOD_NAMES = tuple(METHODS)


def method_config_class(name: str) -> type[BaseModel] | None:
    """The config class of a method name, or None for an unknown name."""
    method = METHODS.get(name)
    return method.config if method else None


def default_method() -> BaseModel:
    return METHODS["sft"].config()


if TYPE_CHECKING:
    # A union built at run time is opaque to type checkers; recipes read the fields of
    # their own method's class.
    MethodConfig = Any
else:
    MethodConfig = Union[tuple(method.config for method in METHODS.values())]  # noqa: UP007
