"""Preference pairs as token sequences, one way for DPO-family training and for the eval
preference task, so a pair scored in evaluation is exactly the pair trained on."""

from __future__ import annotations

from tuneforge.data.kinds import sequence_views
from tuneforge.data.records import PreferenceExample
from tuneforge.data.templating import TokenizedExample, TokenizeStats, tokenize_aligned

TokenizedPairExample = tuple[PreferenceExample, TokenizedExample, TokenizedExample]
"""A pair and its chosen and rejected sequences (prompt + reply, loss on the reply)."""


def tokenize_pairs(
    pairs: list[PreferenceExample], tokenizer, max_length: int, tool_format: str = "template"
) -> tuple[list[TokenizedPairExample], TokenizeStats]:
    """The pairs kept, in order, with their sequences; a pair is dropped when either reply
    has no token left within max_length (fit prompts first: data/prompt_fit.py)."""
    views = [view for pair in pairs for view in sequence_views(pair)]
    tokenized, stats = tokenize_aligned(views, tokenizer, max_length, "pairs", tool_format)
    kept = [
        (pair, chosen, rejected)
        for pair, chosen, rejected in zip(pairs, tokenized[0::2], tokenized[1::2], strict=True)
        if chosen is not None and rejected is not None
    ]
    return kept, stats
