"""Scorers of word overlap, from the maintained reference implementations: rouge_l
(Google's `rouge-score`) and bleu (`sacrebleu`). Both are imported where used: they come
with the `jobs` extra, and nothing else in evaluation needs them.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _rouge_l_scorer() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (Lin 2004): with LCS the longest common subsequence of tokens,
    P = LCS / len(prediction), R = LCS / len(reference), F = 2PR / (P + R).

    Tokens are rouge-score's own: lowercased, every character other than ASCII letters and
    digits is a separator, no stemming. So "café" is the tokens "caf", text in a script
    without ASCII letters has no tokens, and an empty side scores 0; use `bleu` for such
    text."""
    return float(_rouge_l_scorer().score(reference, prediction)["rougeL"].fmeasure)


def bleu(prediction: str, reference: str) -> float:
    """sacrebleu's sentence BLEU / 100, clipped to [0, 1] (a perfect match computes as
    100.00000000000004): 13a tokenization, case-sensitive, exponential smoothing of zero
    n-gram counts, effective order (a match shorter than four tokens can still score 1).
    An empty prediction scores 0."""
    import sacrebleu

    return min(1.0, max(0.0, sacrebleu.sentence_bleu(prediction, [reference]).score / 100.0))
