"""Held-out loss, perplexity and token accuracy on any file training reads as SFT data.

Examples go through the same readers, chat templating and loss mask as training
(data/templating.py: only the assistant's tokens count) and the same log-prob code
(models/logprobs.py), so a held-out loss here is the number a validation row of training
would show for that file. Each metric is a ratio over the file's trained tokens, with
each example weighing by its token count:

    loss = sum_i nll_i / sum_i tokens_i,   perplexity = exp(loss),
    token_accuracy = sum_i correct_i / sum_i tokens_i

where nll_i is example i's summed negative log-likelihood of its trained tokens and
correct_i how many of them are the model's argmax. Intervals resample examples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from tuneforge.data import IGNORE, Example, collate, read_examples
from tuneforge.data.templating import tokenize_aligned
from tuneforge.errors import DataError
from tuneforge.eval.task import Metric, TaskScores
from tuneforge.models.logprobs import direct_head_supported, target_logps, trained_logits

DEFAULT_MAX_LENGTH = 1024  # DataConfig.max_length's default: what a validation row used
MAX_EXP = 700.0  # math.exp overflows a float past ~709.8


def safe_exp(x: float) -> float:
    """exp, with an overflowing value reported as infinity instead of an error."""
    return math.exp(x) if x < MAX_EXP else math.inf


def run_loss(
    model, tokenizer, path: Path, *, max_length: int = DEFAULT_MAX_LENGTH, batch_size: int = 8
) -> TaskScores:
    examples = read_examples(path, kind="sft")
    return loss_scores(model, tokenizer, examples, str(path), max_length, batch_size)


@torch.no_grad()
def loss_scores(
    model, tokenizer, examples: Sequence[Example], source: str,
    max_length: int = DEFAULT_MAX_LENGTH, batch_size: int = 8,
) -> TaskScores:  # fmt: skip
    """The loss task's scores for examples already read (`source` names them in errors)."""
    tokenized, stats = tokenize_aligned(examples, tokenizer, max_length, source=source)
    kept = [(i, t) for i, t in enumerate(tokenized) if t is not None]
    if not kept:
        raise DataError(
            source, None, None, f"no example has a trained token within max_length={max_length}"
        )
    nll = [0.0] * len(kept)
    correct = [0.0] * len(kept)
    tokens = [0.0] * len(kept)
    direct = direct_head_supported(model, distributed=False)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # Longest first, so batches hold similar lengths and the first pass shows the peak.
    order = sorted(range(len(kept)), key=lambda k: -len(kept[k][1].input_ids))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate([kept[k][1] for k in chunk], pad)
        logits, targets = trained_logits(model, batch, direct)
        logps = target_logps(logits, targets)
        hits = (logits.argmax(-1) == targets).float()
        # Trained positions are flattened row by row: split them back per example.
        per_row = (batch.targets != IGNORE).sum(1).tolist()
        for k, row_logps, row_hits in zip(
            chunk, logps.split(per_row), hits.split(per_row), strict=True
        ):
            nll[k] = -float(row_logps.sum())
            correct[k] = float(row_hits.sum())
            tokens[k] = float(len(row_logps))
    metrics = {
        "loss": Metric(nll, tokens, lower_is_better=True),
        "perplexity": Metric(nll, tokens, transform=safe_exp, lower_is_better=True),
        "token_accuracy": Metric(correct, tokens),
    }
    details = [
        {"index": i, "tokens": int(tokens[k]), "loss": nll[k] / tokens[k]}
        for k, (i, _) in enumerate(kept)
    ]
    return TaskScores(metrics, n=len(kept), examples=details, dropped=stats.dropped_no_target)
