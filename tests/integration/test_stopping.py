"""Runs that end before max_steps: a NaN loss stops with TrainingDiverged and keeps the
last good checkpoint; early stopping keeps the best checkpoint however old."""

from __future__ import annotations

import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import (
    TINY,
    chat_records,
    read_metrics,
    read_summary,
    tiny_overrides,
    write_jsonl,
    write_yaml,
)
from tuneforge.cli.main import main
from tuneforge.train.methods.sft import recipe

pytestmark = pytest.mark.slow


@pytest.fixture
def train_file(tmp_path):
    return write_jsonl(tmp_path / "train.jsonl", chat_records(16))


def train_cli(train_file, run_dir, *overrides: str) -> int:
    config = train_file.with_name("cfg.yaml")
    config.write_text("")  # everything comes from the overrides
    return main(["train", str(config), *tiny_overrides(train_file, run_dir), *overrides])


def test_nan_loss_stops_the_run_and_keeps_the_last_checkpoint(
    train_file, tmp_path, monkeypatch, capsys
):
    real_loss, calls = recipe.token_cross_entropy, []

    def nan_at_step_3(logits, targets):
        calls.append(1)
        loss, correct = real_loss(logits, targets)
        return (loss * math.nan if len(calls) == 3 else loss), correct

    monkeypatch.setattr(recipe, "token_cross_entropy", nan_at_step_3)
    run_dir = tmp_path / "run"
    code = train_cli(train_file, run_dir, "train.max_steps=5", "train.save_every=2")

    assert code == 1
    assert "error: loss became nan at step 3; the last good checkpoint is kept" in (
        capsys.readouterr().err
    )
    summary = read_summary(run_dir)
    assert (summary["status"], summary["steps"]) == ("diverged", 2)
    assert [row["step"] for row in read_metrics(run_dir)] == [1, 2]
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step-2"]
    assert (run_dir / "loss.png").is_file() and not (run_dir / "adapter").exists()

    # Once the cause is fixed, --resume continues from the last good checkpoint.
    monkeypatch.undo()
    code = train_cli(train_file, run_dir, "train.max_steps=5", "train.save_every=2", "--resume")
    assert code == 0
    assert read_summary(run_dir)["status"] == "completed"
    assert [row["step"] for row in read_metrics(run_dir) if "event" not in row] == [1, 2, 3, 4, 5]


def test_early_stopping_keeps_the_best_checkpoint(train_file, tmp_path, monkeypatch):
    scripted = iter([3.0, 2.0, 2.5, 2.6, 1.0])

    def evaluator(*args):
        return lambda: {"eval_loss": next(scripted), "eval_token_accuracy": 0.0}

    monkeypatch.setattr(recipe, "_evaluator", evaluator)
    run_dir = tmp_path / "run"
    code = train_cli(
        train_file, run_dir, "data.validation_split=0.25", "train.max_steps=10",
        "train.eval_every=1", "train.early_stopping_patience=2", "train.keep_checkpoints=1",
    )  # fmt: skip

    assert code == 0
    summary = read_summary(run_dir)
    assert summary["status"] == "completed" and summary["stopped_early"] is True
    assert (summary["steps"], summary["best_eval_loss"], summary["best_step"]) == (4, 2.0, 2)
    # Patience alone turns checkpoints on; only improvements are saved, the best is kept.
    assert [p.name for p in (run_dir / "checkpoints").iterdir()] == ["step-2"]
    assert (run_dir / "checkpoints" / "step-2" / "adapter" / "adapter_config.json").is_file()
    assert (run_dir / "adapter" / "adapter_model.safetensors").is_file()


def test_sigterm_records_an_interrupted_run(tmp_path):
    """A killed run (SIGTERM, as a scheduler sends) says so in summary.json and exits 130."""
    write_jsonl(tmp_path / "train.jsonl", chat_records(64, seed=1))
    write_yaml(
        tmp_path / "cfg.yaml",
        {
            "model": {"name_or_path": TINY},
            "data": {"train": "train.jsonl", "max_length": 64},
            "train": {"max_steps": 100000, "batch_size": 2, "log_every": 1},
            "output": {"dir": "run"},
        },
    )
    cli = str(Path(sys.executable).parent / "tuneforge")
    proc = subprocess.Popen([cli, "train", "cfg.yaml"], cwd=tmp_path, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 2):
        assert time.monotonic() < deadline and proc.poll() is None, "training never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    summary = read_summary(tmp_path / "run")
    assert summary["status"] == "interrupted"
    assert summary["steps"] >= 2


def test_sigusr1_pauses_at_a_checkpoint_and_resume_continues(tmp_path):
    """The jobs API's pause: a checkpoint after the current step, status "paused", exit 0;
    --resume then finishes the run with step numbers that continue."""
    write_jsonl(tmp_path / "train.jsonl", chat_records(16, seed=1))
    write_yaml(
        tmp_path / "cfg.yaml",
        {
            "model": {"name_or_path": TINY},
            "data": {"train": "train.jsonl", "max_length": 64},
            "train": {"epochs": 25, "batch_size": 4, "log_every": 1, "save_every": "epoch",
                      "mixed_precision": "no"},
            "output": {"dir": "run"},
        },
    )  # fmt: skip
    cli = str(Path(sys.executable).parent / "tuneforge")
    proc = subprocess.Popen([cli, "train", "cfg.yaml"], cwd=tmp_path, stderr=subprocess.DEVNULL)
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.exists() and metrics.read_text().count("\n") >= 6):
        assert time.monotonic() < deadline and proc.poll() is None, "training never started"
        time.sleep(0.2)
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait(timeout=60) == 0
    summary = read_summary(tmp_path / "run")
    paused_at = summary["steps"]
    assert summary["status"] == "paused" and paused_at >= 6
    steps = sorted(int(p.name.split("-")[1]) for p in (tmp_path / "run/checkpoints").iterdir())
    # One checkpoint per epoch (4 steps), the newest two kept, plus the pause's own.
    assert steps[-1] == paused_at
    assert all(s % 4 == 0 for s in steps[:-1])
    assert not (tmp_path / "run" / "adapter").exists()

    code = subprocess.call(
        [cli, "train", "cfg.yaml", "--resume"], cwd=tmp_path, stderr=subprocess.DEVNULL
    )
    assert code == 0
    assert read_summary(tmp_path / "run")["status"] == "completed"
    rows = [row["step"] for row in read_metrics(tmp_path / "run") if "event" not in row]
    assert rows == list(range(1, 101))
