"""A giant record costs memory in proportion to the token budget, not to its size: the
tokenizer sees only the characters the budget can cover, and keeps the same tokens."""

from __future__ import annotations

import random

import pytest

from tests.helpers import WORDS
from tuneforge.config.prepare import PrepareConfig
from tuneforge.data.budget import bounded, char_budget
from tuneforge.data.prepare.process import ChunkProcessor
from tuneforge.data.records import ChatExample, CompletionExample, Message, TextExample
from tuneforge.data.templating import tokenize_examples

# Indentation-heavy code and plain words: the first tokenizes at many characters a token.
TEXTS = {
    "words": " ".join(random.Random(0).choice(WORDS) for _ in range(40_000)),
    "code": ("def f():\n" + " " * 80 + "return 1\n") * 3_000,
}


def test_budget_uses_the_longest_vocabulary_entry(tokenizer):
    longest = max(len(token) for token in tokenizer.get_vocab())
    assert longest == 81  # SmolLM2: "\n" and 80 spaces; a guess of 32 would be unsafe
    assert char_budget(tokenizer, 128) == 2 * 129 * 81


@pytest.mark.parametrize("kind", ["words", "code"])
def test_bounded_text_keeps_the_tokens_of_the_whole(tokenizer, kind):
    text = TEXTS[kind]
    whole = tokenizer(text, add_special_tokens=False)["input_ids"]
    cut = tokenizer(text[: char_budget(tokenizer, 64)], add_special_tokens=False)["input_ids"]
    assert len(cut) > 2 * 64
    assert cut[:65] == whole[:65]


def test_tokenizer_sees_at_most_the_budget(tokenizer, monkeypatch):
    seen: list[int] = []
    encode = type(tokenizer).__call__

    def spy(self, texts, *args, **kwargs):
        seen.extend(len(t) for t in ([texts] if isinstance(texts, str) else texts))
        return encode(self, texts, *args, **kwargs)

    monkeypatch.setattr(type(tokenizer), "__call__", spy)
    huge = TEXTS["words"] * 25  # ~5 million characters
    chat = ChatExample((Message("user", "Summarise."), Message("assistant", huge)))
    examples = [TextExample(huge), CompletionExample("Go on:", huge), chat]
    # 64: the tiny model's template adds a default system prompt before the user turn.
    tokenized, stats = tokenize_examples(examples, tokenizer, max_length=64)
    assert [len(t.input_ids) for t in tokenized] == [64, 64, 64]
    assert stats.truncated == 3 and stats.dropped_no_target == 0
    budget = char_budget(tokenizer, 64)
    assert max(seen) < budget + 200  # the text, plus a chat template's few markers
    monkeypatch.undo()
    small = [TextExample(huge[: budget // 2])]  # under the budget: tokenized whole
    assert tokenize_examples(small, tokenizer, 64)[0][0].input_ids == tokenized[0].input_ids


def test_bounded_returns_short_examples_unchanged():
    example = ChatExample((Message("user", "q"), Message("assistant", "a")))
    assert bounded(example, 10) is example
    assert bounded(TextExample("abcdef"), 3) == TextExample("abc")


def test_prepare_counts_tokens_up_to_its_largest_bound(tokenizer):
    lengths = {"assistant": {"min": 1}, "total": {"max": 128}}
    cfg = PrepareConfig(lengths=lengths, quality=None)  # a repeated text is no quality test
    processor = ChunkProcessor(cfg, "sft", tokenizer.backend_tokenizer, contamination=[])
    assert processor.count_chars == 129 * processor.longest_token
    huge = {"messages": [{"role": "user", "content": "Go."},
                         {"role": "assistant", "content": TEXTS["words"] * 10}]}  # fmt: skip
    result = processor([("in.jsonl", 1, huge)], first_index=0)
    assert dict(result.removed) == {("length", "total over 128 tokens"): 1}
    assert 128 < result.tokens_before[0] <= 2 * processor.count_chars
    unbounded = PrepareConfig(lengths={"total": {"max": None}})
    assert ChunkProcessor(unbounded, "sft", tokenizer.backend_tokenizer, []).count_chars is None
