"""`tuneforge plan` and the train pre-flight on the tiny model: plan.json's sections, the
prompting scores behind the decision, and a run stopped before loading weights with the
settings that would fit."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY, chat_records, tiny_overrides, write_jsonl, write_yaml
from tuneforge.cli.main import main as tuneforge
from tuneforge.quickstart.task import make_examples


@pytest.fixture(scope="module")
def orders(tmp_path_factory, tuneforge_cache):
    root = tmp_path_factory.mktemp("plan")
    return write_jsonl(root / "orders.jsonl", make_examples(60, seed=3))


def test_plan_writes_every_section(orders, tmp_path, capsys):
    out = tmp_path / "plan"
    code = tuneforge(
        ["plan", "--data", str(orders), "--model", TINY, "--output", str(out),
         "--device-profile", "a100", "--max-hours", "1", "--max-new-tokens", "8",
         "data.max_length=128"]
    )  # fmt: skip
    assert code == 0
    plan = json.loads((out / "plan.json").read_text())
    decision = plan["decision"]
    assert decision["verdict"] in ("prompt", "fine-tune", "rag")
    assert {"zero_shot", "system_prompt", "few_shot"} <= set(decision["scores"])
    assert decision["scorer"] == "field_accuracy"  # the orders' replies are JSON objects
    assert plan["data"]["kind"] == "format"
    data, defined = plan["checklist"][1:3]
    assert data["status"] == "not_met" and "60 valid examples" in data["reason"]  # floor: 100
    assert defined["status"] == "met"
    assert len(plan["checklist"]) == 6
    memory = plan["memory"]
    assert memory["peak_bytes"] >= sum(v for k, v in memory["parts"].items() if k != "overhead")
    assert plan["time"]["tokens_per_epoch"] > 0 and plan["time"]["hours"] > 0
    assert plan["cost"]["price_per_hour"] == 1.8
    assert "## Memory" in (out / "plan.md").read_text()
    assert "checklist" in capsys.readouterr().out


def test_preflight_stops_a_run_that_would_not_fit(tmp_path, tuneforge_cache, monkeypatch, capsys):
    import tuneforge.plan.preflight as preflight

    monkeypatch.setattr(preflight, "available_bytes", lambda device: 300 * 1024**2)
    train = write_jsonl(tmp_path / "train.jsonl", chat_records(16, seed=1))
    config = write_yaml(tmp_path / "run.yaml", {})
    overrides = [*tiny_overrides(train, tmp_path / "run"), "data.max_length=1024"]
    assert tuneforge(["train", str(config), *overrides]) == 1
    error = capsys.readouterr().err
    assert "would run out of memory" in error and "Settings that fit" in error
    assert not (tmp_path / "run").exists()
    assert tuneforge(["train", str(config), *overrides, "--no-preflight"]) == 0
