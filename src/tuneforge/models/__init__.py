"""Base models, tokenizers, adapters, and the tiny-model factory used by tests.

Names are imported on first use (PEP 562), so commands that only need the registry or
a tokenizer file, like `data prepare`, start without importing torch.
"""

from importlib import import_module

_HOMES = {
    "attach_adapter": "adapters",
    "count_parameters": "adapters",
    "load_model": "loading",
    "load_tokenizer": "loading",
    "resolve_dtype": "loading",
    "ALIASES": "registry",
    "DEFAULT_MODEL": "registry",
    "resolve_model_path": "registry",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
