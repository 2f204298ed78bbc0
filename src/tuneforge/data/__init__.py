"""Training data: typed records, readers, chat templating with loss targets, batching.

Names are imported on first use (PEP 562): reading and cleaning data never needs
torch, which only batching imports.
"""

from importlib import import_module

_HOMES = {
    "Batch": "batching",
    "BatchPlan": "batching",
    "collate": "batching",
    "collate_packed": "batching",
    "plan_batches": "batching",
    "plan_packed_batches": "batching",
    "read_examples": "readers",
    "ChatExample": "records",
    "CompletionExample": "records",
    "Example": "records",
    "Message": "records",
    "TextExample": "records",
    "IGNORE": "templating",
    "TokenizedExample": "templating",
    "TokenizeStats": "templating",
    "tokenize_examples": "templating",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
