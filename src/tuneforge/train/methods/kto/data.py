"""KTO's data: labelled replies, each with a mismatched twin for the KL estimate."""

from __future__ import annotations

import random

from tuneforge.config import RunConfig
from tuneforge.data.readers import read_examples
from tuneforge.data.records import ChatExample, FeedbackExample
from tuneforge.data.templating import tokenize_aligned
from tuneforge.errors import ConfigError, DataError
from tuneforge.train.pairs import PairData, TokenizedPair


def load_feedback_data(cfg: RunConfig, tokenizer) -> PairData:
    """Labelled replies (or preference pairs, unpaired) tokenized as (example, KL twin)
    pairs, where the twin is the example's prompt with the next example's completion
    (Ethayarajh et al. 2024, section 4.1)."""
    if cfg.data.train is None:
        raise ConfigError("data.train: missing: set the labelled file, e.g. data.train=kto.jsonl")
    examples = read_examples(cfg.data.train, kind="kto")
    validation = read_examples(cfg.data.validation, kind="kto") if cfg.data.validation else []
    if not validation and cfg.data.validation_split > 0:
        order = list(range(len(examples)))
        random.Random(cfg.train.seed).shuffle(order)
        held = set(order[: max(1, round(len(examples) * cfg.data.validation_split))])
        validation = [examples[i] for i in sorted(held)]
        examples = [ex for i, ex in enumerate(examples) if i not in held]
    train, dropped, truncated = _tokenize(examples, tokenizer, cfg.data.max_length)  # type: ignore[arg-type]
    if not train:
        raise DataError(
            cfg.data.train, None, None,
            f"no example keeps a completion token within data.max_length={cfg.data.max_length}",
        )  # fmt: skip
    if all(p.desirable for p in train) or not any(p.desirable for p in train):
        raise DataError(
            cfg.data.train, None, "label", "KTO needs both desirable and undesirable examples"
        )
    val, _, _ = _tokenize(validation, tokenizer, cfg.data.max_length)  # type: ignore[arg-type]
    return PairData(train, val, dropped, truncated)


def _tokenize(examples: list[FeedbackExample], tokenizer, max_length: int):
    n = len(examples)
    views = []
    for i, example in enumerate(examples):
        twin = examples[(i + 1) % n]
        views += [
            ChatExample(example.prompt + example.completion),
            ChatExample(example.prompt + twin.completion),
        ]
    tokenized, stats = tokenize_aligned(views, tokenizer, max_length, "kto")
    kept = [
        TokenizedPair(main, twin, desirable=example.desirable)
        for example, main, twin in zip(examples, tokenized[0::2], tokenized[1::2], strict=True)
        if main is not None and twin is not None
    ]
    return kept, n - len(kept), stats.truncated
