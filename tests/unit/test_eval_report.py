"""The regression report's parts, each against numbers worked by hand: the KL of two
next-token distributions, the verdict rule, the overfitting rule, what the plot draws."""

from __future__ import annotations

import math

import pytest
import torch

from tuneforge.eval.report.general import general_conversations, general_paragraphs
from tuneforge.eval.report.kl_probe import token_kl
from tuneforge.eval.report.overfitting import overfitting_in
from tuneforge.eval.report.verdicts import Thresholds, compare_metric, kl_entry, verdict
from tuneforge.eval.report.writing import plot_panels, summary_lines
from tuneforge.eval.task import Metric


def test_token_kl_matches_the_hand_computed_divergence():
    """p = softmax(0, 0) = (1/2, 1/2), q = softmax(ln 3, 0) = (3/4, 1/4):
    KL(p || q) = 1/2 ln((1/2)/(3/4)) + 1/2 ln((1/2)/(1/4)) = 1/2 ln(4/3) = 0.1438410."""
    tuned = torch.tensor([[0.0, 0.0], [1.0, 2.0]])
    base = torch.tensor([[math.log(3.0), 0.0], [1.0, 2.0]])
    kl = token_kl(tuned, base)
    assert kl[0].item() == pytest.approx(0.5 * math.log(4 / 3), abs=1e-6)
    assert kl[1].item() == 0.0  # a distribution's distance from itself


def test_token_kl_is_not_symmetric():
    """KL(q || p) for the same pair = 3/4 ln((3/4)/(1/2)) + 1/4 ln((1/4)/(1/2))
    = 3/4 ln(3/2) - 1/4 ln 2 = 0.1308706: the report measures the tuned model's view."""
    p = torch.tensor([[0.0, 0.0]])
    q = torch.tensor([[math.log(3.0), 0.0]])
    expected = 0.75 * math.log(1.5) - 0.25 * math.log(2)
    assert token_kl(q, p).item() == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("delta", "base", "p", "lower", "expected"),
    [
        (0.10, 0.50, 0.01, False, "improved"),  # accuracy up, significant, 20% of base
        (-0.10, 0.50, 0.01, False, "regressed"),
        (-0.10, 2.00, 0.01, True, "improved"),  # a loss down
        (0.10, 2.00, 0.01, True, "regressed"),
        (0.10, 0.50, 0.20, False, "unchanged"),  # could be noise
        (0.004, 0.50, 0.001, False, "unchanged"),  # significant but under 1% of 0.5
        (0.001, 0.0, 0.001, False, "improved"),  # from zero, any significant change counts
    ],
)
def test_verdict_needs_both_significance_and_size(delta, base, p, lower, expected):
    assert verdict(delta, base, p, lower, Thresholds()) == expected


def test_compare_metric_tests_examples_pairwise():
    """Eight examples that all gain 0.25 in the tuned model: every paired difference is
    equal, so the p-value is the sign test's 2 * 0.5**8 = 0.0078125 < 0.05; the change is
    50% of the base's 0.5: improved."""
    base = Metric([0.5] * 8)
    tuned = Metric([0.75] * 8)
    entry = compare_metric(base, tuned, Thresholds())
    assert entry["base"] == 0.5 and entry["tuned"] == 0.75 and entry["delta"] == 0.25
    assert entry["p_value"] == pytest.approx(2 * 0.5**8)
    assert entry["verdict"] == "improved"


def test_a_ratio_metric_is_paired_on_its_summed_numerators():
    """Token losses summed 4 and 9 over 2 and 3 tokens, against 2 and 7: the metric is the
    ratio of sums, 13/5 = 2.6 -> 9/5 = 1.8; the test pairs the sums (differences -2, -2,
    all equal: the sign test's p = 2 * 0.5**2 = 0.5), so a 3-token example weighs as three
    tokens, not as much as a long one. Two examples cannot show a change: unchanged."""
    base = Metric([4.0, 9.0], [2.0, 3.0], lower_is_better=True)
    tuned = Metric([2.0, 7.0], [2.0, 3.0], lower_is_better=True)
    assert base.paired_values(tuned) == ([4.0, 9.0], [2.0, 7.0])
    entry = compare_metric(base, tuned, Thresholds())
    assert entry["delta"] == pytest.approx(1.8 - 2.6)
    assert entry["p_value"] == 0.5 and entry["verdict"] == "unchanged"


def test_ratio_metrics_over_different_tokens_pair_each_examples_ratio():
    base = Metric([4.0, 9.0], [2.0, 3.0])
    tuned = Metric([3.0, 8.0], [1.0, 4.0])
    assert base.paired_values(tuned) == ([2.0, 3.0], [3.0, 2.0])


def test_kl_regresses_only_when_its_interval_clears_the_threshold():
    near = Metric([0.02, 0.04, 0.03], [1.0, 1.0, 1.0], lower_is_better=True)
    far = Metric([0.5, 0.6, 0.7], [1.0, 1.0, 1.0], lower_is_better=True)
    assert kl_entry(near, Thresholds())["verdict"] == "unchanged"
    entry = kl_entry(far, Thresholds(kl_threshold=0.1))
    assert entry["verdict"] == "regressed" and entry["base"] == 0.0 and entry["p_value"] is None
    assert entry["tuned"] == pytest.approx(0.6)


def rows(evals: dict[int, float], train: dict[int, float]) -> list[dict]:
    out = [{"step": s, "loss": v} for s, v in train.items()]
    out += [{"step": s, "eval_loss": v} for s, v in evals.items()]
    return sorted(out, key=lambda r: r["step"])


def test_overfitting_from_the_step_validation_turned():
    """Validation 2.0, 1.5, 1.6, 1.8 at steps 10-40: best 1.5 at step 20, last 1.8 is 20%
    worse (> 1%); training loss after step 20 (0.8, 0.6) averages 0.7, below the two rows
    up to it (1.2, 1.0: 1.1): overfitting from step 20."""
    found = overfitting_in(
        rows({10: 2.0, 20: 1.5, 30: 1.6, 40: 1.8}, {10: 1.2, 20: 1.0, 30: 0.8, 40: 0.6})
    )
    assert found["detected"] and found["from_step"] == 20
    assert found["best_value"] == 1.5 and found["last_value"] == 1.8


def test_no_overfitting_when_validation_keeps_improving_or_barely_moves():
    falling = overfitting_in(rows({10: 2.0, 20: 1.5, 30: 1.4}, {10: 1.0, 20: 0.9, 30: 0.8}))
    assert not falling["detected"] and "did not turn" in falling["reason"]
    # 1.5 -> 1.51 is 0.67% worse: under the 1% tolerance.
    flat = overfitting_in(rows({10: 2.0, 20: 1.5, 30: 1.51}, {10: 1.0, 20: 0.9, 30: 0.8}))
    assert not flat["detected"]


def test_both_curves_rising_is_divergence_not_overfitting():
    found = overfitting_in(rows({10: 2.0, 20: 1.5, 30: 3.0}, {10: 1.0, 20: 0.9, 30: 2.5}))
    assert not found["detected"] and "so did the training score" in found["reason"]


def test_too_few_validation_points_say_so():
    found = overfitting_in(rows({10: 2.0, 20: 3.0}, {10: 1.0, 20: 0.5}))
    assert not found["detected"] and "too few" in found["reason"]


def test_a_reward_curve_is_better_higher():
    """eval_reward_mean 0.2, 0.6, 0.4 with reward_mean rising 0.1, 0.3, 0.5: the validation
    reward turned down after step 2 while training reward kept rising."""
    data = [
        {"step": s, "reward_mean": t, "eval_reward_mean": e}
        for s, t, e in ((1, 0.1, 0.2), (2, 0.3, 0.6), (3, 0.5, 0.4))
    ]
    found = overfitting_in(data, "eval_reward_mean")
    assert found["detected"] and found["from_step"] == 2


def entry(base, tuned, verdict="unchanged"):
    return {
        "base": base, "tuned": tuned, "delta": None, "base_ci": [base, base],
        "tuned_ci": [tuned, tuned], "p_value": 0.5, "verdict": verdict,
    }  # fmt: skip


def test_the_plot_draws_every_finite_metric_and_the_summary_names_each():
    report = {
        "task": {"loss": entry(2.0, 1.5, "improved")},
        "general": {"kl_to_base": entry(0.0, 0.3, "regressed"), "perplexity": entry(5.0, None)},
        "overfitting": {"detected": False, "reason": "too few"},
    }
    drawn = plot_panels(report)
    assert [p.title for p in drawn] == ["task: loss", "general: kl_to_base"]
    assert drawn[1].verdict == "regressed"
    lines = summary_lines(report)
    assert len(lines) == 4 and "improved" in lines[0] and "n/a" in lines[2]


def test_the_builtin_probe_covers_its_topics_evenly():
    conversations = general_conversations()
    assert len(conversations) == 64
    assert all(c.messages[-1].role == "assistant" for c in conversations)
    assert len(general_paragraphs()) >= 30


def test_a_win_rate_is_compared_with_the_bases_tie_against_itself():
    """The base has no win rate of its own: against itself every reply ties, 0.5. Eight
    consistent wins: every difference is +0.5, sign test p = 2 * 0.5**8: improved. A
    metric the base lacks and that has no value by definition is left out."""
    from tuneforge.eval.report.compare import _compare_tasks
    from tuneforge.eval.task import TaskScores

    base = {"judged": TaskScores({}, n=0)}
    tuned = {"judged": TaskScores({"win_rate": Metric([1.0] * 8), "mystery": Metric([1.0])}, 8)}
    entries = _compare_tasks(base, tuned, Thresholds(), seed=0)
    assert list(entries) == ["win_rate"]
    assert entries["win_rate"]["base"] == 0.5 and entries["win_rate"]["verdict"] == "improved"
    assert entries["win_rate"]["p_value"] == pytest.approx(2 * 0.5**8)
