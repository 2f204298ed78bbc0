"""`text_similarity` graders: a score in [0, 1] from a maintained metric library.

fuzzy_match: rapidfuzz's `fuzz.ratio` / 100, i.e. 1 - Indel distance / (len(a) + len(b))
(characters). bleu: sacrebleu's sentence BLEU / 100 (13a tokens, exp smoothing). gleu:
NLTK's sentence GLEU (Wu et al. 2016: min of n-gram precision and recall, n = 1..4, over
whitespace tokens). rouge_1..rouge_5, rouge_l: rouge-score's F-measure (its own
lower-casing tokenizer, no stemming). meteor: NLTK's, only where its WordNet data is
installed (it is a separate download). cosine: refused, it needs an embedding model.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from tuneforge.graders.outcome import Outcome
from tuneforge.graders.templates import render


def fuzzy_match(text: str, reference: str) -> float:
    from rapidfuzz import fuzz

    return fuzz.ratio(text, reference) / 100.0


def bleu(text: str, reference: str) -> float:
    import sacrebleu

    return sacrebleu.sentence_bleu(text, [reference]).score / 100.0


def gleu(text: str, reference: str) -> float:
    from nltk.translate.gleu_score import sentence_gleu

    return float(sentence_gleu([reference.split()], text.split()))


def meteor(text: str, reference: str) -> float:
    from nltk.translate.meteor_score import meteor_score

    return float(meteor_score([reference.split()], text.split()))


def rouge(kind: str) -> Callable[[str, str], float]:
    def score(text: str, reference: str) -> float:
        return _rouge_scorer(kind).score(reference, text)[kind].fmeasure

    return score


@functools.cache
def _rouge_scorer(kind: str) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([kind], use_stemmer=False)


METRICS: dict[str, Callable[[str, str], float]] = {
    "fuzzy_match": fuzzy_match,
    "bleu": bleu,
    "gleu": gleu,
    "meteor": meteor,
    **{f"rouge_{n}": rouge(f"rouge{n}") for n in range(1, 6)},
    "rouge_l": rouge("rougeL"),
}


def unsupported_metric(name: str) -> str | None:
    """Why this server cannot compute `name`, or None when it can."""
    if name == "cosine":
        return (
            "evaluation_metric 'cosine' compares embeddings and this server has no "
            "embedding model; use fuzzy_match, bleu, gleu or a rouge metric"
        )
    if name == "meteor" and not _wordnet_installed():
        return (
            "evaluation_metric 'meteor' needs NLTK's WordNet data, which is not installed "
            "(python -m nltk.downloader wordnet); or use bleu, gleu or a rouge metric"
        )
    return None


@functools.cache
def _wordnet_installed() -> bool:
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError:
        return False
    return True


def grade_text_similarity(grader: Any, sample: dict[str, Any], item: dict[str, Any]) -> Outcome:
    text = render(grader.input, sample, item)
    reference = render(grader.reference, sample, item)
    score = min(1.0, max(0.0, METRICS[grader.evaluation_metric](text, reference)))
    scores: dict[str, Any] = {grader.evaluation_metric: score}
    if grader.pass_threshold is not None:
        scores["passed"] = score >= grader.pass_threshold
    return Outcome(score, scores=scores)
