"""bf16 autocast trains the same model to the same losses as float32, within bf16's
rounding, and runs of either precision follow each other in one process."""

from __future__ import annotations

import pytest

from tests.helpers import chat_records, read_summary, tiny_config, train_losses, write_jsonl
from tuneforge.train import train


@pytest.mark.slow
def test_bf16_autocast_tracks_float32(tmp_path):
    data = write_jsonl(tmp_path / "train.jsonl", chat_records(16))
    losses = {}
    for setting in ("no", "bf16", "no"):
        run = tmp_path / f"run-{setting}"
        cfg = tiny_config(data, run, f"train.mixed_precision={setting}", "output.overwrite=true")
        train(cfg)
        assert read_summary(run)["status"] == "completed"
        losses[setting] = list(train_losses(run).values())
    assert losses["bf16"] == pytest.approx(losses["no"], rel=5e-3)
    assert losses["bf16"] != losses["no"]  # it really computed in bf16
