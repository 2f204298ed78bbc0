"""What every eval task returns, and how it becomes `results.json`'s entry for a task.

A task scores each example of its file, and a metric is either the mean of per-example
values (accuracy, ROUGE-L, the probability of the right choice) or a ratio of sums
(a per-token loss: each example's summed loss over its token count). Keeping the
per-example numbers is what lets every figure carry a bootstrap interval and every
base-vs-tuned difference a paired p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tuneforge.eval.stats import mean_ci, ratio_ci


@dataclass
class Metric:
    values: list[float]
    """One value per example (a mean metric), or each example's numerator (a ratio)."""
    weights: list[float] | None = None
    """Each example's denominator for a ratio metric (its token count); None: a mean."""
    transform: Callable[[float], float] | None = None
    """Applied to the mean or ratio and to its interval ends (math.exp: perplexity)."""
    lower_is_better: bool = False
    """A loss or a distance: the comparison report calls a fall an improvement."""

    def value(self) -> float:
        raw = (
            sum(self.values) / len(self.values)
            if self.weights is None
            else sum(self.values) / sum(self.weights)
        )
        return self.transform(raw) if self.transform else raw

    def paired_values(self, other: Metric) -> tuple[list[float], list[float]]:
        """(self's, other's) per-example values for a paired test of the two metrics on the
        same examples. A mean metric pairs its values. A ratio metric over the same
        weights (two models scoring the same tokens) pairs its numerators: their mean
        difference is zero exactly when the ratios of sums are equal, and a 3-token
        example weighs 3 tokens' worth, as it does in the metric. Over different weights
        it pairs each example's own ratio."""
        if self.weights is None or other.weights is None or self.weights == other.weights:
            return list(self.values), list(other.values)
        return _ratios(self), _ratios(other)

    def interval(self, seed: int = 0) -> tuple[float, float]:
        if self.weights is None:
            low, high = mean_ci(self.values, seed=seed)
        else:
            low, high = ratio_ci(self.values, self.weights, seed=seed)
        if self.transform:
            low, high = self.transform(low), self.transform(high)
        return low, high


def _ratios(metric: Metric) -> list[float]:
    assert metric.weights is not None
    return [v / w for v, w in zip(metric.values, metric.weights, strict=True)]


@dataclass
class TaskScores:
    metrics: dict[str, Metric]
    n: int
    examples: list[dict[str, Any]] = field(default_factory=list)
    """Per-example details worth reading (prompt, prediction, score), for samples.jsonl."""
    dropped: int = 0
    """Records the task could not score (e.g. cut to nothing by max_length): not in n."""

    def summary(self, seed: int = 0) -> dict[str, Any]:
        """results.json's entry: {"metrics": {NAME: VALUE}, "ci": {NAME: [LOW, HIGH]}, "n",
        "dropped"}."""
        return {
            "metrics": {name: _finite(m.value()) for name, m in self.metrics.items()},
            "ci": {
                name: [_finite(x) for x in m.interval(seed)] for name, m in self.metrics.items()
            },
            "n": self.n,
            "dropped": self.dropped,
        }


def _finite(x: float) -> float | None:
    """JSON has no infinity: an overflowing perplexity is reported as null."""
    return x if math.isfinite(x) else None
