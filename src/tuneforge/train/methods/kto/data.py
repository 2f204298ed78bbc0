"""KTO's data: labelled replies, each with a mismatched twin for the KL estimate."""

from __future__ import annotations

from tuneforge.config import RunConfig
from tuneforge.data.prompt_fit import fit_prompts
from tuneforge.data.readers import read_examples
from tuneforge.data.records import ChatExample, FeedbackExample
from tuneforge.data.templating import tokenize_aligned
from tuneforge.errors import DataError
from tuneforge.train.pair_batches import TokenizedPair
from tuneforge.train.paired import PairData
from tuneforge.train.setup import train_and_validation


def load_feedback_data(cfg: RunConfig, tokenizer) -> PairData:
    """Labelled replies (or preference pairs, unpaired) tokenized as (example, KL twin)
    pairs, where the twin is the example's prompt with the next example's completion
    (Ethayarajh et al. 2024, section 4.1)."""
    examples, validation = train_and_validation(
        cfg, lambda path: read_examples(path, kind="kto", format=cfg.data.format), "kto.jsonl"
    )
    data = cfg.data
    fitted, fit = fit_prompts(
        examples, tokenizer, data.max_length, data.max_prompt_length, data.tool_format
    )
    train, dropped, truncated = _tokenize(fitted, tokenizer, data.max_length)
    if not train:
        raise DataError(
            cfg.data.train, None, None,
            f"no example keeps a completion token within data.max_length={cfg.data.max_length}",
        )  # fmt: skip
    if all(p.desirable for p in train) or not any(p.desirable for p in train):
        raise DataError(
            cfg.data.train, None, "label", "KTO needs both desirable and undesirable examples"
        )
    validation, _ = fit_prompts(
        validation, tokenizer, data.max_length, data.max_prompt_length, data.tool_format
    )
    val, _, _ = _tokenize(validation, tokenizer, data.max_length)
    return PairData(train, val, dropped + fit.dropped, truncated, fit.shortened)


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
