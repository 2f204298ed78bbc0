"""How much text a token budget needs: a giant record costs memory in proportion to
max_length, not to its own size.

Tokenizing a 50 MB message to keep its first 128 tokens builds ~12 million token ids and
offsets first (gigabytes); cutting the text to what 128 tokens can cover keeps the same
first tokens. A token covers at most as many characters as its vocabulary entry has
(byte-level entries are one character per byte), so the longest entry bounds characters
per token. A guess like 32 would not be safe: SmolLM2's vocabulary holds 81-character
runs of indentation. The bound holds where every character is spelled by vocabulary
entries, as byte-level BPE guarantees; a WordPiece [UNK] can stand for a word of any
length.
"""

from __future__ import annotations

from tuneforge.data.records import Example
from tuneforge.data.serialise import map_texts


def char_budget(tokenizer, max_tokens: int) -> int:
    """Characters of text that hold at least 2 * (max_tokens + 1) tokens. Twice what the
    budget needs: cutting a text changes how the last few tokens before the cut merge,
    and those must lie well past the tokens that are kept."""
    longest = max(len(token) for token in tokenizer.get_vocab())
    return 2 * (max_tokens + 1) * longest


def bounded(example: Example, chars: int) -> Example:
    """The example with every text cut to `chars` characters (the same object when none
    is longer, the common case). Cut text lies beyond the budget, so the tokens kept,
    trained spans, truncation and dropped-example counts are those of the whole text."""
    return map_texts(example, lambda text: text[:chars])
