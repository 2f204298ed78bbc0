"""metrics.jsonl rows -> OpenAI's result file and metrics events. The rows are written as
the training loop writes them (train/loop.py `_Window.row`, the SFT and paired
evaluators), so a renamed metric there shows up here."""

from __future__ import annotations

import csv
from pathlib import Path

from tuneforge.jobs.result_csv import RESULT_COLUMNS, metrics_event, write_result_csv


def train_row(step: int, loss: float, **metrics: float) -> dict:
    return {"step": step, "epoch": step / 4, "loss": loss, **metrics, "lr": 1e-4,
            "grad_norm": 0.5, "tokens_per_second": 900.0, "trained_tokens": 40 * step}  # fmt: skip


SFT_ROWS = [
    train_row(2, 2.5, token_accuracy=0.25),
    {"event": "resumed", "step": 2, "at": "2026-01-01T00:00:00"},
    train_row(4, 2.0, token_accuracy=0.5),
    {"step": 4, "eval_loss": 2.2, "eval_token_accuracy": 0.4},
    {"step": 5, "eval_loss": 2.1, "eval_token_accuracy": 0.45},
]


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_result_file_merges_train_and_validation_by_step(tmp_path):
    out = tmp_path / "results" / "result.csv"
    write_result_csv(SFT_ROWS, out)
    assert out.read_text().splitlines()[0] == ",".join(RESULT_COLUMNS)
    assert read(out) == [
        {"step": "2", "train_loss": "2.5", "train_accuracy": "0.25", "valid_loss": "",
         "valid_mean_token_accuracy": ""},
        {"step": "4", "train_loss": "2.0", "train_accuracy": "0.5", "valid_loss": "2.2",
         "valid_mean_token_accuracy": "0.4"},
        {"step": "5", "train_loss": "", "train_accuracy": "", "valid_loss": "2.1",
         "valid_mean_token_accuracy": "0.45"},
    ]  # fmt: skip


def test_dpo_rows_leave_the_accuracy_columns_empty(tmp_path):
    rows = [train_row(1, 0.69, reward_accuracy=0.5, reward_margin=0.01),
            {"step": 1, "eval_loss": 0.7, "eval_reward_accuracy": 0.4}]  # fmt: skip
    out = tmp_path / "result.csv"
    write_result_csv(rows, out)
    (line,) = read(out)
    assert line == {"step": "1", "train_loss": "0.69", "train_accuracy": "", "valid_loss": "0.7",
                    "valid_mean_token_accuracy": ""}  # fmt: skip


def test_an_empty_run_has_only_the_header(tmp_path):
    out = tmp_path / "result.csv"
    write_result_csv([], out)
    assert out.read_text().strip() == ",".join(RESULT_COLUMNS)


def test_metrics_event_of_a_training_row():
    assert metrics_event(SFT_ROWS[0], total_steps=5) == {
        "step": 2,
        "train_loss": 2.5,
        "train_mean_token_accuracy": 0.25,
        "total_steps": 5,
    }


def test_metrics_event_of_a_validation_row():
    # Our validation pass covers the whole file: it is OpenAI's valid_* and full_valid_*.
    assert metrics_event(SFT_ROWS[3]) == {
        "step": 4,
        "valid_loss": 2.2,
        "full_valid_loss": 2.2,
        "valid_mean_token_accuracy": 0.4,
        "full_valid_mean_token_accuracy": 0.4,
    }


def test_metrics_event_of_dpo_rows_carries_reward_accuracy_and_margin():
    row = train_row(3, 0.6, reward_accuracy=0.75, reward_margin=0.3, chosen_reward=0.2,
                    rejected_reward=-0.1, chosen_logp=-20.0, rejected_logp=-25.0)  # fmt: skip
    assert metrics_event(row) == {
        "step": 3,
        "train_loss": 0.6,
        "train_reward_accuracy": 0.75,
        "train_reward_margin": 0.3,
        "train_chosen_reward": 0.2,
        "train_rejected_reward": -0.1,
    }
    valid = {"step": 3, "eval_loss": 0.65, "eval_reward_accuracy": 0.5, "eval_reward_margin": 0.1}
    assert metrics_event(valid) == {
        "step": 3,
        "valid_loss": 0.65,
        "full_valid_loss": 0.65,
        "valid_reward_accuracy": 0.5,
        "valid_reward_margin": 0.1,
    }


def test_metrics_event_of_grpo_rows():
    assert metrics_event(train_row(2, 0.1, reward_mean=0.8)) == {
        "step": 2, "train_loss": 0.1, "train_reward_mean": 0.8,
    }  # fmt: skip
    assert metrics_event({"step": 2, "eval_reward_mean": 0.9}) == {
        "step": 2, "valid_reward_mean": 0.9,
    }  # fmt: skip


def test_event_rows_are_not_metrics():
    assert metrics_event(SFT_ROWS[1]) is None
