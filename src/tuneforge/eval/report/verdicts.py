"""A verdict for each metric of the regression report: improved, unchanged or regressed,
with the rule that decided it written beside it.

A base-vs-tuned difference counts only when both hold:
- it is unlikely to be noise: the paired-bootstrap p-value (stats.paired_p_value, over
  the examples both models saw) is below `alpha`;
- it is big enough to matter: |tuned - base| is at least `min_effect` of |base| (a
  relative threshold, so a perplexity of 20 and an accuracy of 0.4 are held to the same
  1%); when base is 0 any significant change counts.
Its direction then says improved or regressed, by whether the metric is better higher
(accuracy) or lower (loss, perplexity). A ratio metric (a per-token loss) is tested on
each example's summed numerator (task.Metric.paired_values), so an example weighs in the
test as it does in the metric.

kl_to_base has no base value to test against (the base's distance from itself is 0 by
definition): it is `regressed` when the lower end of its interval exceeds `kl_threshold`
nats per token, else `unchanged`; it cannot improve.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuneforge.eval.stats import paired_p_value
from tuneforge.eval.task import Metric

IMPROVED, UNCHANGED, REGRESSED = "improved", "unchanged", "regressed"
BASE_BY_DEFINITION = {
    "win_rate": 0.5, "lc_win_rate": 0.5, "dpo_reward_accuracy": 0.5, "dpo_reward_margin": 0.0,
}  # fmt: skip
"""The base's value of metrics only a tuned model reports: against itself every reply
ties (a win rate of 0.5), and its implicit DPO reward is 0 on every pair (a tie, 0.5)."""


@dataclass(frozen=True)
class Thresholds:
    alpha: float = 0.05
    min_effect: float = 0.01
    kl_threshold: float = 0.1

    def rule(self) -> str:
        return (
            f"a change counts when its paired-bootstrap p < {self.alpha} and it is at least "
            f"{self.min_effect:.0%} of the base value; kl_to_base regresses when its 95% "
            f"interval lies above {self.kl_threshold} nats/token"
        )


def verdict(delta: float, base: float, p_value: float, lower_is_better: bool, t: Thresholds) -> str:
    if p_value >= t.alpha or abs(delta) < t.min_effect * abs(base):
        return UNCHANGED
    better = delta < 0 if lower_is_better else delta > 0
    return IMPROVED if better else REGRESSED


def compare_metric(base: Metric, tuned: Metric, t: Thresholds, seed: int = 0) -> dict[str, Any]:
    """{"base", "tuned", "delta", "base_ci", "tuned_ci", "p_value", "verdict"} for one
    metric measured on the same examples by both models."""
    b, v = base.value(), tuned.value()
    p = paired_p_value(*base.paired_values(tuned), seed=seed)
    return {
        "base": b,
        "tuned": v,
        "delta": v - b,
        "base_ci": list(base.interval(seed)),
        "tuned_ci": list(tuned.interval(seed)),
        "p_value": p,
        "verdict": verdict(v - b, b, p, tuned.lower_is_better, t),
    }


def kl_entry(kl: Metric, t: Thresholds, seed: int = 0) -> dict[str, Any]:
    """kl_to_base in the same shape: base 0, no p-value, the threshold decides."""
    value = kl.value()
    low, high = kl.interval(seed)
    return {
        "base": 0.0,
        "tuned": value,
        "delta": value,
        "base_ci": [0.0, 0.0],
        "tuned_ci": [low, high],
        "p_value": None,
        "verdict": REGRESSED if low > t.kl_threshold else UNCHANGED,
    }
