"""Overfitting, read from a run's own metrics: did the validation score turn worse while the
training score kept improving, and from which step?

The validation metric is the one that picked the run's best checkpoint (summary.json's
`best_metric`: eval_loss for the supervised and pair methods, eval_reward_mean for the
online ones); a name with "loss" in it is better lower. The rule, on the rows of
metrics.jsonl:

1. best = the validation point with the best value (the earliest, on ties);
2. the validation score turned: the last validation value is worse than the best by more
   than `tolerance` of |best| (1%: a flat curve's noise is not a turn);
3. the training score kept improving after the best step: the mean training value over
   the rows after it is better than over as many rows up to it (so one noisy row neither
   makes nor hides it). The training value is the method's own (`task_loss` when replay
   or a penalty adds to `loss`). Runs that log no training counterpart skip this.

When all hold it reports "overfitting from step <best>" and names the checkpoint saved at
that step, when the run kept one.
"""

from __future__ import annotations

from typing import Any

from tuneforge.run_dir import RunDir

TOLERANCE = 0.01
MIN_POINTS = 3  # a turn needs a point before, at and after the best


def detect_overfitting(run: RunDir, tolerance: float = TOLERANCE) -> dict[str, Any]:
    summary = run.read_summary() or {}
    metric = summary.get("best_metric") or "eval_loss"
    return overfitting_in(run.read_metrics(), metric, tolerance) | _checkpoint(run)


def overfitting_in(
    rows: list[dict[str, Any]], metric: str = "eval_loss", tolerance: float = TOLERANCE
) -> dict[str, Any]:
    """{"detected", "from_step", "metric", "best_step", "best_value", "last_value",
    "reason"} for a run's metrics rows."""
    lower = "loss" in metric
    points = _series(rows, metric)
    result: dict[str, Any] = {
        "detected": False, "from_step": None, "metric": metric,
        "best_step": None, "best_value": None, "last_value": None,
    }  # fmt: skip
    if len(points) < MIN_POINTS:
        too_few = f"{len(points)} validation points of {metric}: too few to see a turn"
        return result | {"reason": too_few}
    best_step, best = (min if lower else max)(points, key=lambda p: p[1])
    last = points[-1][1]
    result |= {"best_step": best_step, "best_value": best, "last_value": last}
    worse_by = (last - best) if lower else (best - last)
    if worse_by <= tolerance * abs(best):
        return result | {"reason": f"{metric} did not turn: last {last:.4g}, best {best:.4g}"}
    key = metric.removeprefix("eval_")
    train = _series(rows, f"task_{key}") or _series(rows, key)  # without replay and penalties
    before = [v for s, v in train if s <= best_step]
    after = [v for s, v in train if s > best_step]
    if before and after:
        window = before[-len(after) :]
        mean_before, mean_after = sum(window) / len(window), sum(after) / len(after)
        if not (mean_after < mean_before if lower else mean_after > mean_before):
            return result | {
                "reason": f"{metric} worsened after step {best_step}, but so did the training "
                "score: not overfitting (the run diverged or the learning rate is too high)"
            }
    return result | {
        "detected": True,
        "from_step": best_step,
        "reason": f"{metric} turned worse after step {best_step} ({best:.4g} -> {last:.4g}) "
        "while the training score kept improving",
    }


def _series(rows: list[dict[str, Any]], key: str) -> list[tuple[int, float]]:
    return [(r["step"], r[key]) for r in rows if "event" not in r and r.get(key) is not None]


def _checkpoint(run: RunDir) -> dict[str, Any]:
    best = run.best_checkpoint()
    return {"best_checkpoint": str(best.path) if best else None}
