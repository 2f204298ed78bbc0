"""How far a tuned model's next-token distribution moved from its base's, on general text
that needs no labels: the regression report's `kl_to_base`.

For each conversation, at each token t of the assistant's replies (the positions training
would put loss on), with p the tuned model's next-token distribution and q the base's:

    KL_t(p || q) = sum_v p(v) * (log p(v) - log q(v))

and the metric is the per-token mean over the whole set, sum_i sum_t KL_t / sum_i T_i,
each conversation weighing by its token count T_i (a ratio metric: its interval resamples
conversations). KL(p || q) is the expected extra log-loss, in nats per token, that scoring
text the tuned model writes with the base costs: 0 for an unchanged model, and it grows as
the tuned model says things the base would not. Computed in float32 over the full
vocabulary, so no top-k truncation hides mass that moved to rare tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from tuneforge.data import IGNORE, Example, collate
from tuneforge.data.templating import tokenize_aligned
from tuneforge.errors import DataError
from tuneforge.eval.task import Metric, TaskScores
from tuneforge.models.logprobs import trained_logits

Logits = Callable[[object], tuple[torch.Tensor, torch.Tensor]]
"""batch -> (logits [n, vocab], targets [n]) at the batch's trained positions."""


def token_kl(tuned_logits: torch.Tensor, base_logits: torch.Tensor) -> torch.Tensor:
    """[n] KL(p || q) per row, p = softmax(tuned_logits), q = softmax(base_logits)."""
    log_p = torch.log_softmax(tuned_logits.float(), dim=-1)
    log_q = torch.log_softmax(base_logits.float(), dim=-1)
    return (log_p.exp() * (log_p - log_q)).sum(-1).clamp_min(0.0)  # rounding can dip below 0


@torch.no_grad()
def kl_to_base(
    tuned: Logits, base: Logits, tokenizer, examples: Sequence[Example], source: str,
    max_length: int = 1024, batch_size: int = 8,
) -> TaskScores:  # fmt: skip
    """`kl_to_base` over `examples` (chat or text records), computed batch by batch so the
    two models' logits over the vocabulary are never held for more than one batch."""
    tokenized, stats = tokenize_aligned(examples, tokenizer, max_length, source=source)
    kept = [t for t in tokenized if t is not None]
    if not kept:
        raise DataError(source, None, None, "no example has a trained token to compare")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    sums, counts = [0.0] * len(kept), [0.0] * len(kept)
    order = sorted(range(len(kept)), key=lambda k: -len(kept[k].input_ids))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate([kept[k] for k in chunk], pad)
        tuned_logits, targets = tuned(batch)
        base_logits, _ = base(batch)
        kl = token_kl(tuned_logits, base_logits)
        per_row = (batch.targets != IGNORE).sum(1).tolist()
        for k, row in zip(chunk, kl.split(per_row), strict=True):
            sums[k], counts[k] = float(row.sum()), float(len(row))
    metric = Metric(sums, counts, lower_is_better=True)
    details = [{"tokens": int(c), "kl": s / c} for s, c in zip(sums, counts, strict=True)]
    return TaskScores({"kl_to_base": metric}, len(kept), details, stats.dropped_no_target)


def logits_of(model, direct_head: bool) -> Logits:
    """A Logits function for one model (eval mode, no gradient)."""
    return lambda batch: trained_logits(model, batch, direct_head)
