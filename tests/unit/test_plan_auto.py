"""`auto` epochs, batch size and learning rate: the rules by hand, and a tiny run whose
saved config holds the resolved numbers."""

from __future__ import annotations

import pytest

from tests.helpers import chat_records, read_summary, tiny_overrides, write_jsonl, write_yaml
from tuneforge.plan.auto import resolve_auto


def test_auto_settings_follow_the_rules():
    """20 examples: 20 x 3 < 100, so 100 // 20 = 5 epochs; 0.2% of 20 is 0.04 -> 1 ->
    raised to the floor of 4; DPO's shipped 5e-5, a tenth for full fine-tuning."""
    resolved, lines = resolve_auto(
        {"epochs": "auto", "batch_size": "auto", "lr": "auto", "seed": 1}, "dpo", "full", 20
    )
    assert resolved == {"epochs": 5, "batch_size": 4, "lr": pytest.approx(5e-6), "seed": 1}
    assert len(lines) == 3 and "OpenAI's rule" in lines[0] and "dpo-lora.yaml" in lines[2]


def test_values_given_are_kept():
    resolved, lines = resolve_auto({"epochs": 2, "batch_size": 8, "lr": 1e-3}, "sft", "lora", 500)
    assert resolved == {"epochs": 2, "batch_size": 8, "lr": 1e-3} and lines == []


def test_a_run_with_auto_settings_saves_what_they_became(tmp_path, tuneforge_cache, capsys):
    from tuneforge.cli.main import main as tuneforge
    from tuneforge.run_dir import RunDir

    train = write_jsonl(tmp_path / "train.jsonl", chat_records(40, seed=3))
    config = write_yaml(tmp_path / "run.yaml", {})
    overrides = [
        *tiny_overrides(train, tmp_path / "run"), "train.max_steps=2",
        "train.epochs=auto", "train.batch_size=auto", "train.lr=auto",
    ]  # fmt: skip
    assert tuneforge(["train", str(config), *overrides]) == 0
    saved = RunDir(tmp_path / "run").read_config()["train"]
    # 40 examples: 40 x 3 = 120 examples seen, within [100, 25000]: 3 epochs; batch 4.
    assert (saved["epochs"], saved["batch_size"], saved["lr"]) == (3, 4, 2e-4)
    assert read_summary(tmp_path / "run")["status"] == "completed"
    assert "train.epochs auto -> 3" in capsys.readouterr().err
