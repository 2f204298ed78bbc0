"""Recipe set-up: validation hold-out, optimizer groups, warmup."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import chat_records, tiny_config, write_jsonl
from tuneforge.config import TrainConfig
from tuneforge.errors import ConfigError
from tuneforge.train.setup import load_training_data, make_optimizer, make_scheduler


def test_validation_split_is_held_out_by_seed(tmp_path, tokenizer):
    train_file = write_jsonl(tmp_path / "train.jsonl", chat_records(20))
    cfg = tiny_config(train_file, tmp_path / "out", "data.validation_split=0.25")
    data = load_training_data(cfg, tokenizer)
    assert (len(data.train), len(data.validation), data.stats.examples) == (15, 5, 15)
    again = load_training_data(cfg, tokenizer)
    assert [e.input_ids for e in again.validation] == [e.input_ids for e in data.validation]
    held = {tuple(e.input_ids) for e in data.validation}
    assert not held & {tuple(e.input_ids) for e in data.train}


def test_validation_file_wins_over_split(tmp_path, tokenizer):
    train_file = write_jsonl(tmp_path / "train.jsonl", chat_records(20))
    valid_file = write_jsonl(tmp_path / "valid.jsonl", chat_records(3, seed=9))
    cfg = tiny_config(
        train_file, tmp_path, f"data.validation={valid_file}", "data.validation_split=0.5"
    )
    data = load_training_data(cfg, tokenizer)
    assert (len(data.train), len(data.validation)) == (20, 3)


def test_training_file_is_required(tmp_path, tokenizer):
    cfg = tiny_config(tmp_path / "x.jsonl", tmp_path, "data.train=null")
    with pytest.raises(ConfigError, match="data.train: missing"):
        load_training_data(cfg, tokenizer)


def test_weight_decay_only_on_matrices():
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    optimizer = make_optimizer(model, TrainConfig(weight_decay=0.1))
    decays = {g["weight_decay"]: [p.ndim for p in g["params"]] for g in optimizer.param_groups}
    assert decays == {0.1: [2], 0.0: [1, 1, 1]}


@pytest.mark.parametrize(("scheduler", "last"), [("cosine", 0.0), ("constant", 1.0)])
def test_warmup_then_schedule(scheduler, last):
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([param], lr=1.0)
    cfg = TrainConfig(lr=1.0, scheduler=scheduler, warmup_ratio=0.2)
    schedule = make_scheduler(optimizer, cfg, total_steps=10)
    lrs = []
    for _ in range(10):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert lrs[:3] == [0.0, 0.5, 1.0]  # ceil(0.2 x 10) = 2 warmup steps
    assert optimizer.param_groups[0]["lr"] == pytest.approx(last)
