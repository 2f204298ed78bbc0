"""The token lengths a run will train on, measured with the model's tokenizer and chat
template the way training tokenizes (data/templating.py), on up to SAMPLE examples, in
the shape plan/memory.py's estimate takes them. A model folder with a config but no
tokenizer is measured with `tokenizer` (default: the embedded model's), and the plan says
so.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from tuneforge.config import RunConfig
from tuneforge.data import IGNORE
from tuneforge.data.prompts import PromptExample
from tuneforge.models.registry import DEFAULT_MODEL

SAMPLE = 2000


@dataclass(frozen=True)
class Lengths:
    lengths: list[int]
    """Tokens per example as its method batches it (plan/passes.py): an SFT example's, a
    pair's longer sequence, a prompt's; each cut to data.max_length."""
    trained: list[int] | None
    """Trained tokens per example (a pair's two replies together); None for prompts."""
    examples: int
    """Examples in the file (the lengths are from at most SAMPLE of them)."""
    scale: float
    """examples / examples measured: multiplies sums up to the whole file."""
    tokenizer: str
    note: str

    @property
    def tokens_per_epoch(self) -> int:
        """Tokens through the model per epoch (a pair's two sequences counted once each
        as its longer one: an upper bound)."""
        return round(sum(self.lengths) * self.scale)


def tokenizer_for(model: str, tokenizer: str | None) -> tuple[str, str]:
    """(what to load the tokenizer from, a note when it is not the model's own)."""
    if tokenizer:
        return tokenizer, f"lengths measured with the tokenizer of {tokenizer} (--tokenizer)"
    folder = Path(model)
    if folder.is_dir() and not any(
        (folder / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json")
    ):
        return DEFAULT_MODEL, (
            f"{model} has no tokenizer: lengths measured with {DEFAULT_MODEL}'s (give "
            "--tokenizer for the model's own)"
        )
    return model, ""


def measure_lengths(cfg: RunConfig, tokenizer_name: str | None = None, log=None) -> Lengths:
    from tuneforge.data import read_examples
    from tuneforge.models import load_tokenizer
    from tuneforge.train.methods.registry import METHODS

    assert cfg.data.train is not None
    source, note = tokenizer_for(cfg.model.name_or_path, tokenizer_name)
    tokenizer = load_tokenizer(source, log or (lambda message: None))
    examples = read_examples(
        cfg.data.train, kind=METHODS[cfg.method.name].data, format=cfg.data.format
    )
    sample = list(examples)
    if len(sample) > SAMPLE:
        sample = random.Random(0).sample(sample, SAMPLE)
    trained: list[int] | None = None
    if isinstance(sample[0], PromptExample):  # online methods: the prompt's tokens
        lengths = [min(cfg.data.max_length, len(_prompt_ids(tokenizer, e))) for e in sample]
    else:
        kept = [m for m in example_lengths(sample, tokenizer, cfg) if m is not None]
        lengths, trained = [m[0] for m in kept], [m[1] for m in kept]
    return Lengths(
        lengths, trained, len(examples), len(examples) / max(1, len(sample)), source, note
    )


def example_lengths(examples: list, tokenizer, cfg: RunConfig) -> list[tuple[int, int] | None]:
    """(tokens, trained tokens) of each example as training tokenizes it, in order: a
    pair's longer sequence and the trained tokens of both; None when training drops it (a
    pair with either side dropped, as data/pair_tokens.py does)."""
    from tuneforge.data.kinds import sequence_views
    from tuneforge.data.templating import tokenize_aligned

    views = [sequence_views(example) for example in examples]
    flat = [view for group in views for view in group]
    tokenized, _ = tokenize_aligned(flat, tokenizer, cfg.data.max_length, str(cfg.data.train))
    out: list[tuple[int, int] | None] = []
    at = 0
    for group in views:
        rows = tokenized[at : at + len(group)]
        at += len(group)
        if any(t is None for t in rows):
            out.append(None)
            continue
        tokens = max(len(t.input_ids) for t in rows)
        out.append((tokens, sum(sum(1 for x in t.targets if x != IGNORE) for t in rows)))
    return out


def _prompt_ids(tokenizer, example) -> list[int]:
    text = tokenizer.apply_chat_template(
        example.template_messages(), tokenize=False, add_generation_prompt=True
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]
