"""Training data: typed records, readers, chat templating with loss targets, batching."""

from tuneforge.data.batching import (
    Batch,
    BatchPlan,
    collate,
    collate_packed,
    plan_batches,
    plan_packed_batches,
)
from tuneforge.data.readers import read_examples
from tuneforge.data.records import ChatExample, CompletionExample, Example, Message, TextExample
from tuneforge.data.templating import IGNORE, TokenizedExample, TokenizeStats, tokenize_examples

__all__ = [
    "IGNORE",
    "Batch",
    "BatchPlan",
    "ChatExample",
    "CompletionExample",
    "Example",
    "Message",
    "TextExample",
    "TokenizeStats",
    "TokenizedExample",
    "collate",
    "collate_packed",
    "plan_batches",
    "plan_packed_batches",
    "read_examples",
    "tokenize_examples",
]
