"""text_similarity metrics, against values worked out by hand.

hyp = "the cat sat on the mat", ref = "the cat sat on a mat" (6 tokens each)
  clipped n-gram matches / hyp n-grams: 1: 5/6, 2: 3/5, 3: 2/4, 4: 1/3, 5: 0/2
  BLEU  = (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = (1/12) ** 0.25 (brevity penalty 1)
  GLEU  = min(P, R) over all 1..4-grams = (5+3+2+1) / (6+5+4+3) = 11/18
  ROUGE-n F = the n-gram ratio above (equal lengths: P = R); ROUGE-L: LCS 5 -> 5/6
fuzzy_match("kitten", "sitting"): LCS "ittn" (4), Indel distance 6 + 7 - 2*4 = 5,
  similarity 1 - 5/13 = 8/13.
"""

from __future__ import annotations

import pytest

from tuneforge.graders import GraderUnavailable, grade
from tuneforge.graders.text_similarity import unsupported_metric

HYP, REF = "the cat sat on the mat", "the cat sat on a mat"


def similarity(metric: str, output: str, reference: str, **extra) -> float:
    grader = {"type": "text_similarity", "name": "t", "input": "{{sample.output_text}}",
              "reference": "{{item.ref}}", "evaluation_metric": metric, **extra}  # fmt: skip
    result = grade(grader, output, {"ref": reference})
    assert result.error_kind is None, result.error_message
    return result.reward


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("bleu", (1 / 12) ** 0.25),
        ("gleu", 11 / 18),
        ("rouge_1", 5 / 6),
        ("rouge_2", 3 / 5),
        ("rouge_3", 2 / 4),
        ("rouge_4", 1 / 3),
        ("rouge_5", 0.0),
        ("rouge_l", 5 / 6),
    ],
)
def test_metric_on_the_worked_example(metric, expected):
    assert similarity(metric, HYP, REF) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("metric", ["bleu", "gleu", "rouge_1", "rouge_l", "fuzzy_match"])
def test_identical_texts_score_one(metric):
    assert similarity(metric, HYP, HYP) == pytest.approx(1.0)


def test_fuzzy_match():
    assert similarity("fuzzy_match", "kitten", "sitting") == pytest.approx(8 / 13)
    assert similarity("fuzzy_match", "abc", "xyz") == 0.0


def test_pass_threshold_is_reported():
    grader = {"type": "text_similarity", "name": "t", "input": "kitten", "reference": "sitting",
              "evaluation_metric": "fuzzy_match", "pass_threshold": 0.6}  # fmt: skip
    assert grade(grader, "", {}).scores == {"fuzzy_match": pytest.approx(8 / 13), "passed": True}


def test_cosine_and_uninstalled_meteor_are_refused_by_name():
    cosine = {"type": "text_similarity", "name": "t", "input": "a", "reference": "b",
              "evaluation_metric": "cosine"}  # fmt: skip
    with pytest.raises(GraderUnavailable, match="'cosine'") as caught:
        grade(cosine, "a", {})
    assert caught.value.param == "evaluation_metric"
    if unsupported_metric("meteor") is None:
        pytest.skip("NLTK's WordNet is installed here, so meteor is computed")
    with pytest.raises(GraderUnavailable, match="'meteor' needs NLTK's WordNet"):
        grade({**cosine, "evaluation_metric": "meteor"}, "a", {})
