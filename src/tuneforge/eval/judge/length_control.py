"""The length-controlled win rate: the win rate a judge would give if the tuned and base
replies were equally long.

Judges, human and LLM alike, favour longer replies, so training that only lengthens replies
raises the raw win rate. Following Length-Controlled AlpacaEval (Dubois et al. 2024,
"Length-Controlled AlpacaEval: A Simple Way to Debias Automatic Evaluators", section 3),
fit a logistic model of each pair's outcome y_i (1 win, 0.5 tie, 0 loss) on its length
difference d_i (tuned minus base, in characters), standardised and squashed as theirs is,

    x_i = tanh(d_i / sd(d))                  p_i = sigmoid(a + b x_i)

and report the predicted win rate at zero length difference, sigmoid(a). Simplified from
theirs: one tuned model against one base, so no per-model or per-instruction terms.

The fit minimises the cross-entropy sum_i -[y_i log p_i + (1 - y_i) log(1 - p_i)] (ties
are half a win, as in their fit) plus (penalty / 2) b^2: a standard normal prior on the
length slope, which keeps b finite when length separates wins from losses (a judge that
always picks the longer reply) and matters little once there are hundreds of pairs. The
intercept is not penalised, so at the optimum sum_i p_i = sum_i y_i, and the per-pair values

    v_i = y_i - p_i + sigmoid(a)             (the outcome with its length effect removed)

average to sigmoid(a) exactly: they are what the Metric keeps, so the interval resamples
pairs with the length slope held at its fitted value (a little narrower than refitting).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_PENALTY = 1.0


@dataclass
class LengthControl:
    win_rate: float
    """sigmoid(a): the predicted win rate at equal lengths."""
    adjusted: list[float]
    """v_i per pair, whose mean is win_rate."""
    intercept: float
    slope: float
    """b: how much a standardised length advantage moves the log-odds of winning."""


def length_controlled(
    outcomes: Sequence[float], differences: Sequence[float], penalty: float = DEFAULT_PENALTY
) -> LengthControl:
    """The module docstring's fit. With no spread in the lengths (or none in the outcomes)
    there is no length effect to remove: the win rate is the raw one."""
    y = np.asarray(outcomes, dtype=np.float64)
    d = np.asarray(differences, dtype=np.float64)
    if len(y) == 0 or len(y) != len(d):
        raise ValueError(f"length_controlled: {len(y)} outcomes and {len(d)} length differences")
    if penalty <= 0:  # without it there is no fit when length separates wins from losses
        raise ValueError(f"length_controlled: penalty must be positive, got {penalty}")
    spread = d.std()
    if spread == 0 or (y == y[0]).all():
        # All outcomes alike would send a to infinity; no length spread leaves b undefined.
        raw = float(y.mean())
        return LengthControl(raw, y.tolist(), _logit(raw), 0.0)
    x = np.tanh(d / spread)
    a, b = _fit(x, y, penalty)
    p = _sigmoid(a + b * x)
    rate = float(_sigmoid(np.float64(a)))
    return LengthControl(rate, (y - p + rate).tolist(), float(a), float(b))


def _fit(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[float, float]:
    """(a, b) by Newton's method, halving a step until it lowers the objective."""
    features = np.column_stack([np.ones_like(x), x])  # [n, 2]
    ridge = np.array([0.0, penalty])

    def objective(theta: np.ndarray) -> float:
        z = features @ theta
        # -[y log p + (1 - y) log(1 - p)] = log(1 + e^z) - y z, overflow-free
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * penalty * theta[1] ** 2)

    theta = np.zeros(2)
    for _ in range(100):
        p = _sigmoid(features @ theta)
        gradient = features.T @ (p - y) + ridge * theta
        hessian = features.T @ (features * (p * (1 - p))[:, None]) + np.diag(ridge)
        step = np.linalg.solve(hessian, gradient)
        size, before = 1.0, objective(theta)
        while objective(theta - size * step) > before and size > 1e-8:
            size /= 2
        theta = theta - size * step
        if np.abs(size * step).max() < 1e-12:
            break
    return float(theta[0]), float(theta[1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -z))


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p)) if 0 < p < 1 else float(np.sign(p - 0.5) * np.inf)
