"""Base models, tokenizers, adapters, and the tiny-model factory used by tests."""

from tuneforge.models.adapters import attach_adapter, count_parameters, resolve_adapter_dir
from tuneforge.models.loading import load_model, load_tokenizer, resolve_dtype
from tuneforge.models.registry import ALIASES, DEFAULT_MODEL, resolve_model_path

__all__ = [
    "ALIASES",
    "DEFAULT_MODEL",
    "attach_adapter",
    "count_parameters",
    "load_model",
    "load_tokenizer",
    "resolve_adapter_dir",
    "resolve_dtype",
    "resolve_model_path",
]
