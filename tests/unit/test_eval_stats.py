"""Bootstrap intervals and paired p-values: coverage, calibration, degenerate inputs.

Coverage is checked by simulation: draw n scores from a distribution whose mean is known,
compute the 95% interval, repeat 200 times with fixed seeds; the true mean should fall
inside about 95% of the intervals. A percentile interval of a small sample runs a little
narrow (~93% at n = 50), and 200 trials have a standard error of sqrt(.95 * .05 / 200) =
1.5 points, so 88% to 99% is the accepted band.
"""

from __future__ import annotations

import numpy as np
import pytest

from tuneforge.eval.stats import bootstrap_means, mean_ci, paired_p_value

TRIALS = 200


@pytest.mark.parametrize(
    ("draw", "true_mean"),
    [
        (lambda rng, n: (rng.random(n) < 0.3).astype(float), 0.3),  # 0/1 accuracies
        (lambda rng, n: rng.beta(2.0, 5.0, n), 2.0 / 7.0),  # bounded scores (ROUGE-like)
        (lambda rng, n: rng.exponential(1.0, n), 1.0),  # skewed, unbounded (losses)
    ],
    ids=["bernoulli", "beta", "exponential"],
)
def test_mean_ci_covers_the_true_mean_at_about_the_nominal_rate(draw, true_mean):
    covered = 0
    for trial in range(TRIALS):
        scores = draw(np.random.default_rng(10_000 + trial), 50)
        low, high = mean_ci(scores, seed=trial)
        assert low <= scores.mean() <= high
        covered += low <= true_mean <= high
    assert 0.88 <= covered / TRIALS <= 0.99


def test_mean_ci_is_the_percentile_interval_of_resampled_means():
    """The definition, written out: the 2.5% and 97.5% quantiles of the same resampled
    means, drawn from the same generator."""
    scores = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0])
    means = bootstrap_means(scores, 1000, np.random.default_rng(7))
    assert mean_ci(scores, seed=7) == tuple(np.quantile(means, [0.025, 0.975]))


def test_mean_ci_narrows_with_more_data_and_less_confidence():
    rng = np.random.default_rng(0)
    small, large = rng.random(30), rng.random(3000)
    width = lambda ci: ci[1] - ci[0]  # noqa: E731
    assert width(mean_ci(large)) < width(mean_ci(small)) / 5  # ~ sqrt(100) = 10 times
    assert width(mean_ci(small, confidence=0.5)) < width(mean_ci(small, confidence=0.99))


def test_mean_ci_is_deterministic_for_a_seed():
    scores = np.random.default_rng(1).random(200)
    assert mean_ci(scores, seed=3) == mean_ci(list(scores), seed=3)
    assert mean_ci(scores, seed=3) != mean_ci(scores, seed=4)


def test_mean_ci_degenerate_inputs():
    with pytest.raises(ValueError, match="no scores"):
        mean_ci([])
    assert mean_ci([0.7]) == (0.7, 0.7)  # one score: no spread to resample
    assert mean_ci([1.0] * 40) == (1.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        mean_ci([0.5, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        mean_ci([0.1, 0.2], confidence=95)
    with pytest.raises(ValueError, match="flat sequence"):
        mean_ci([[0.1, 0.2]])


def test_mean_ci_on_many_scores_matches_the_normal_interval():
    """100,000 scores x 1,000 resamples would be 800 MB of indices at once; in blocks it is
    ~32 MB. The interval is the normal one: mean 0.5 +- 1.96 * sqrt(1/12 / 1e5) = +- 0.0018."""
    scores = np.random.default_rng(2).random(100_000)
    low, high = mean_ci(scores, resamples=1000)
    assert high - low == pytest.approx(2 * 1.96 * np.sqrt(1 / 12 / 100_000), rel=0.1)


def test_paired_p_value_is_one_for_identical_scores():
    scores = np.random.default_rng(3).random(100)
    assert paired_p_value(scores, scores) == 1.0
    assert paired_p_value([0.0, 1.0, 1.0], [0.0, 1.0, 1.0]) == 1.0


def test_paired_p_value_is_small_for_a_clear_shift_and_floors_at_one_over_b_plus_one():
    """Every tuned score is the base one plus 0.2 give or take 0.05: the centred resamples
    never reach a mean of 0.2, so no resample counts and p = (0 + 1) / (B + 1)."""
    rng = np.random.default_rng(4)
    base = rng.random(100)
    tuned = base + 0.2 + rng.uniform(-0.05, 0.05, 100)
    assert paired_p_value(base, tuned, resamples=999) == 1 / 1000
    assert paired_p_value(tuned, base, resamples=999) == 1 / 1000  # two-sided


def test_paired_p_value_worked_example():
    """Differences d = (1, -1, 1, 1): D = 0.5, centred c = (0.5, -1.5, 0.5, 0.5). A
    resample of 4 with k copies of -1.5 has mean (0.5 (4 - k) - 1.5 k) / 4 = 0.5 - k/2, so
    |mean| >= 0.5 when k = 0 or k >= 2. k ~ Binomial(4, 1/4):
    P(k = 1) = 4 * (1/4) * (3/4)^3 = 27/64, so the share of extreme resamples tends to
    37/64 = 0.578125, and with B = 100,000, p = (1 + count) / (B + 1) is within 0.005 of it.
    """
    base, tuned = [0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 1.0]
    assert paired_p_value(base, tuned, resamples=100_000) == pytest.approx(37 / 64, abs=0.005)


def test_paired_p_value_is_roughly_uniform_under_the_null():
    """When base and tuned come from the same distribution, p < 0.05 should happen about 5%
    of the time (standard error 1.5 points over 200 trials)."""
    false_alarms = 0
    for trial in range(TRIALS):
        rng = np.random.default_rng(20_000 + trial)
        base, tuned = (rng.random(50) < 0.6).astype(float), (rng.random(50) < 0.6).astype(float)
        false_alarms += paired_p_value(base, tuned, resamples=2000, seed=trial) < 0.05
    assert false_alarms / TRIALS <= 0.10


def test_paired_p_value_is_deterministic_for_a_seed():
    rng = np.random.default_rng(5)
    base, tuned = rng.random(60), rng.random(60) + 0.05
    assert paired_p_value(base, tuned, seed=1) == paired_p_value(list(base), list(tuned), seed=1)
    assert paired_p_value(base, tuned, seed=1) != paired_p_value(base, tuned, seed=2)


@pytest.mark.parametrize(
    ("base", "tuned", "p"),
    [
        ([0.2], [0.2], 1.0),  # n = 1, no change
        ([0.2], [0.9], 1.0),  # n = 1: one example cannot show a difference
        ([0.0, 0.0], [1.0, 1.0], 0.5),  # all differences equal: sign test, 2 * 0.5^2
        ([0.0] * 10, [0.5] * 10, 2.0**-9),  # 2 * 0.5^10
        ([1.0] * 10, [0.5] * 10, 2.0**-9),  # the same the other way
    ],
)
def test_paired_p_value_degenerate_inputs(base, tuned, p):
    assert paired_p_value(base, tuned) == p


def test_paired_p_value_refuses_what_it_cannot_test():
    with pytest.raises(ValueError, match="no scores"):
        paired_p_value([], [])
    with pytest.raises(ValueError, match="3 base scores but 2 tuned"):
        paired_p_value([0.1, 0.2, 0.3], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        paired_p_value([0.1, float("inf")], [0.1, 0.2])
