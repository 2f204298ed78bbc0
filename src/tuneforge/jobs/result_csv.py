"""A run's metrics.jsonl rows as OpenAI reports them: the job's result file (CSV) and the
`data` of its `metrics` events.

Our rows (run_dir.py): a training row every train.log_every steps with `loss` and the
method's metrics (`token_accuracy` for SFT, the mean share of trained tokens predicted
right; `reward_accuracy`, `reward_margin` for DPO, ORPO and SimPO; `reward_mean` for
GRPO), and a validation row at each evaluation with the same names prefixed `eval_`.
Our validation pass always covers the whole validation file, so it is both OpenAI's
`valid_*` (a batch of it, at OpenAI) and `full_valid_*` (all of it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import Any

RESULT_COLUMNS = ("step", "train_loss", "train_accuracy", "valid_loss", "valid_mean_token_accuracy")
"""OpenAI's result file columns."""

# Our metric name -> its names in a metrics event's data (OpenAI's names where OpenAI
# has one: the checkpoint metrics object; `train_`/`valid_` + ours for the rest).
TRAIN_EVENT_NAMES: dict[str, tuple[str, ...]] = {
    "loss": ("train_loss",),
    "token_accuracy": ("train_mean_token_accuracy",),
    "reward_accuracy": ("train_reward_accuracy",),
    "reward_margin": ("train_reward_margin",),
    "chosen_reward": ("train_chosen_reward",),
    "rejected_reward": ("train_rejected_reward",),
    "reward_mean": ("train_reward_mean",),
}
VALID_EVENT_NAMES: dict[str, tuple[str, ...]] = {
    "eval_loss": ("valid_loss", "full_valid_loss"),
    "eval_token_accuracy": ("valid_mean_token_accuracy", "full_valid_mean_token_accuracy"),
    "eval_reward_accuracy": ("valid_reward_accuracy",),
    "eval_reward_margin": ("valid_reward_margin",),
    "eval_chosen_reward": ("valid_chosen_reward",),
    "eval_rejected_reward": ("valid_rejected_reward",),
    "eval_reward_mean": ("valid_reward_mean",),
}
# Result file column -> the metric that fills it, from a training or a validation row.
COLUMN_SOURCES: dict[str, str] = {
    "train_loss": "loss",
    "train_accuracy": "token_accuracy",
    "valid_loss": "eval_loss",
    "valid_mean_token_accuracy": "eval_token_accuracy",
}


def write_result_csv(metrics_rows: Iterable[dict[str, Any]], out: Path) -> None:
    """One line per logged step, training and validation values of a step side by side;
    a cell is empty when the run has no such value at that step (no validation there,
    or a method without token accuracy: DPO's rows have none)."""
    by_step: dict[int, dict[str, Any]] = {}
    for row in metrics_rows:
        if not _is_metrics(row):
            continue  # an event row (resumed, ...) carries no metric
        line = by_step.setdefault(int(row["step"]), {"step": int(row["step"])})
        for column, metric in COLUMN_SOURCES.items():
            if row.get(metric) is not None:
                line[column] = row[metric]
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS, restval="")
        writer.writeheader()
        writer.writerows(by_step[step] for step in sorted(by_step))


def metrics_event(row: dict[str, Any], total_steps: int | None = None) -> dict[str, Any] | None:
    """The `data` of an OpenAI `metrics` event for one metrics row: {"step", "train_loss",
    "train_mean_token_accuracy", ...} from a training row, {"step", "valid_loss",
    "full_valid_loss", ...} from a validation row, only the values the row has; with
    `total_steps`, as OpenAI's events carry it. None for a row that is not metrics."""
    if not _is_metrics(row):
        return None
    names = VALID_EVENT_NAMES if _is_validation(row) else TRAIN_EVENT_NAMES
    data: dict[str, Any] = {"step": int(row["step"])}
    for metric, targets in names.items():
        if row.get(metric) is not None:
            data.update(dict.fromkeys(targets, row[metric]))
    if total_steps is not None:
        data["total_steps"] = total_steps
    return data


def _is_metrics(row: dict[str, Any]) -> bool:
    return "event" not in row and isinstance(row.get("step"), int)


def _is_validation(row: dict[str, Any]) -> bool:
    return any(key.startswith("eval_") for key in row)
