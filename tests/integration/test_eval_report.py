"""`tuneforge eval --against RUN` on the tiny model: a run that barely moved is reported
unchanged everywhere, a run trained hard is reported as moved away from its base, and the
report's files are whole."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY, chat_records, tiny_overrides, write_jsonl, write_yaml
from tuneforge.cli.main import main as tuneforge

VERDICTS = {"improved", "unchanged", "regressed"}


@pytest.fixture(scope="module")
def data(tmp_path_factory, tuneforge_cache):
    root = tmp_path_factory.mktemp("eval-report")
    write_jsonl(root / "train.jsonl", chat_records(16, seed=1))
    write_jsonl(root / "valid.jsonl", chat_records(8, seed=2))
    return root


def train(data, name: str, *overrides: str):
    config = write_yaml(data / f"{name}.yaml", {})
    args = [*tiny_overrides(data / "train.jsonl", data / name), *overrides]
    assert tuneforge(["train", str(config), *args, f"data.validation={data / 'valid.jsonl'}"]) == 0
    return data / name


def test_a_run_that_did_not_move_is_unchanged_everywhere(data, capsys):
    """lr 1e-12 for 3 steps leaves LoRA's B at ~0: the tuned model is the base to float
    precision, so its KL to the base is ~0 and no metric may be called a change."""
    run = train(data, "still", "train.lr=1e-12")
    assert tuneforge(["eval", "--against", str(run), "--batch-size", "4"]) == 0
    report = json.loads((run / "eval" / "report.json").read_text())
    assert report["models"] == {"base": TINY, "tuned": str(run)}
    assert set(report["task"]) == {"loss", "perplexity", "token_accuracy"}  # the validation file
    assert report["general"]["kl_to_base"]["tuned"] < 1e-6
    for section in ("task", "general"):
        for name, entry in report[section].items():
            assert entry["verdict"] == "unchanged", (section, name, entry)
    assert report["overfitting"]["detected"] is False
    assert (run / "eval" / "report.png").stat().st_size > 0
    markdown = (run / "eval" / "report.md").read_text()
    assert "| kl_to_base |" in markdown and "report.png" in markdown
    assert "kl_to_base" in capsys.readouterr().out


def test_a_run_trained_hard_moved_away_from_its_base(data):
    """Full fine-tuning at lr 1e-2 for 8 steps on 16 records: the validation loss moves and
    the general probe's KL is far above zero; every verdict is one of the three."""
    run = train(
        data, "hard", "adapter.type=full", "train.lr=1e-2", "train.max_steps=8",
        "train.eval_every=2",
    )  # fmt: skip
    out = data / "hard-report"
    task = f"generate:{data / 'valid.jsonl'}"
    assert tuneforge(["eval", "--against", str(run), "--task", task, "--output", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    assert set(report["task"]) == {"normalised"}
    kl = report["general"]["kl_to_base"]
    assert kl["tuned"] > 0.01 and kl["tuned_ci"][0] <= kl["tuned"] <= kl["tuned_ci"][1]
    assert report["general"]["perplexity"]["tuned"] != report["general"]["perplexity"]["base"]
    assert all(e["verdict"] in VERDICTS for s in ("task", "general") for e in report[s].values())
    assert report["manifest"]["models"][str(run)]["sha256"]
    assert not (data / "hard" / "eval").exists()  # --output was elsewhere


def test_a_report_needs_a_run_and_a_target_task(data, tmp_path):
    assert tuneforge(["eval", "--against", str(tmp_path)]) == 1
    assert tuneforge(["eval", "--compare", TINY]) == 1
    config = write_yaml(tmp_path / "novalid.yaml", {})
    overrides = tiny_overrides(data / "train.jsonl", tmp_path / "run")
    assert tuneforge(["train", str(config), *overrides]) == 0
    assert tuneforge(["eval", "--against", str(tmp_path / "run")]) == 1  # no validation file
    assert not (tmp_path / "run" / "eval").exists()


def test_eval_in_the_training_config_reports_when_training_ends(data, tmp_path):
    config = write_yaml(
        tmp_path / "run.yaml",
        {"eval": {"general_probe": False, "tasks": [
            {"kind": "loss", "path": str(data / "valid.jsonl"), "name": "held_out"}]}},
    )  # fmt: skip
    overrides = tiny_overrides(data / "train.jsonl", tmp_path / "run")
    assert tuneforge(["train", str(config), *overrides]) == 0
    report = json.loads((tmp_path / "run" / "eval" / "report.json").read_text())
    assert set(report["task"]) == {"loss", "perplexity", "token_accuracy"}
    assert report["general"] == {}  # the probe was switched off
    assert (tmp_path / "run" / "eval" / "samples" / "tuned" / "held_out.jsonl").is_file()


def test_a_missing_report_task_file_stops_before_training(data, tmp_path):
    config = write_yaml(
        tmp_path / "run.yaml", {"eval": {"tasks": [{"kind": "loss", "path": "nowhere.jsonl"}]}}
    )
    overrides = tiny_overrides(data / "train.jsonl", tmp_path / "run")
    assert tuneforge(["train", str(config), *overrides]) == 1
    assert not (tmp_path / "run").exists()
