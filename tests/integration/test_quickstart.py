"""`tuneforge quickstart` end to end on the tiny model: the plumbing, not the gain
(the 135M model's before/after is measured by hand, see docs/benchmarks.md); the scores
come from the regression report the run's `eval:` section asks for."""

from __future__ import annotations

import json

import pytest

from tests.helpers import TINY
from tuneforge.cli.main import main

pytestmark = pytest.mark.slow


def test_quickstart_writes_data_run_and_result(tmp_path):
    out = tmp_path / "qs"
    code = main(
        ["quickstart", "--model", TINY, "--output", str(out), "--train-examples", "16",
         "--eval-examples", "4"]
    )  # fmt: skip
    assert code == 0
    result = json.loads((out / "quickstart.json").read_text())
    assert result["metric"] == "field_accuracy"
    assert 0.0 <= result["before"] <= 1.0 and 0.0 <= result["after"] <= 1.0
    assert result["held_out_examples"] == 4
    train = (out / "train.jsonl").read_text().splitlines()
    test = (out / "test.jsonl").read_text().splitlines()
    assert len(train) == 16 and len(test) == 4
    held_out = {json.loads(line)["messages"][1]["content"] for line in test}
    assert not held_out & {json.loads(line)["messages"][1]["content"] for line in train}
    assert (out / "run" / "loss.png").is_file()
    assert (out / "run" / "adapter" / "adapter_config.json").is_file()
    # Scored by the regression report: intervals, a paired test, general ability.
    report = json.loads((out / "run" / "eval" / "report.json").read_text())
    assert report["task"]["field_accuracy"]["base"] == result["before"]
    assert result["verdict"] in ("improved", "unchanged", "regressed")
    assert set(result["general"]) == {"kl_to_base", "perplexity"}
    assert len(result["samples"]) == 3 and "after" in result["samples"][0]
