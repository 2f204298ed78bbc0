"""Typed configs, YAML loading and dotted overrides."""

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
