"""Typed configs, YAML loading and dotted overrides.

Names are imported on first use (PEP 562), so a method's config class can import
`tuneforge.config.base` without first building the run config that collects it.
"""

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tuneforge.config.loading import dump_config, load_config
    from tuneforge.config.methods import MethodConfig
    from tuneforge.config.schema import (
        AdapterConfig,
        DataConfig,
        ModelConfig,
        OutputConfig,
        RunConfig,
        TrainConfig,
    )

_HOMES = {
    "AdapterConfig": "schema",
    "DataConfig": "schema",
    "MethodConfig": "methods",
    "ModelConfig": "schema",
    "OutputConfig": "schema",
    "RunConfig": "schema",
    "TrainConfig": "schema",
    "dump_config": "loading",
    "load_config": "loading",
}
__all__ = [
    "AdapterConfig",
    "DataConfig",
    "MethodConfig",
    "ModelConfig",
    "OutputConfig",
    "RunConfig",
    "TrainConfig",
    "dump_config",
    "load_config",
]


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
