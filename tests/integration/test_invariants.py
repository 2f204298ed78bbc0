"""Invariants of the SFT recipe on the tiny model (TRL tests/invariant style): how a
step is split into micro-batches, and whether the run was interrupted, must not change
what is learned; packing must not change what each example sees."""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file

from tests.helpers import (
    chat_records,
    interrupt_after_checkpoint,
    read_metrics,
    read_summary,
    tiny_config,
    write_jsonl,
)
from tuneforge.data import plan_batches, read_examples, tokenize_examples
from tuneforge.train.methods.sft.recipe import train_sft


def quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("data") / "train.jsonl", chat_records(24, seed=1))


def weights(run_dir) -> dict[str, torch.Tensor]:
    for name in ("adapter/adapter_model.safetensors", "model/model.safetensors"):
        if (run_dir / name).is_file():
            return load_file(run_dir / name)
    raise AssertionError(f"no trained weights in {run_dir}")


def step_losses(run_dir) -> list[float]:
    return [row["loss"] for row in read_metrics(run_dir) if "loss" in row]


@pytest.mark.parametrize("adapter", ["lora", "full"])
def test_batch_8_equals_batch_2_times_accumulation_4(adapter, train_file, tmp_path):
    # Without length grouping, a plan of 8s is a plan of 2s taken four at a time, so both
    # runs see the same examples in each step. LoRA dropout would draw different masks.
    assert plan_batches(range(24), 8, 42, 0, False) == [
        sum(plan_batches(range(24), 2, 42, 0, False)[i : i + 4], []) for i in range(0, 12, 4)
    ]
    common = [f"adapter.type={adapter}", "adapter.dropout=0", "data.group_by_length=false"]
    big, small = tmp_path / "big", tmp_path / "small"
    train_sft(tiny_config(train_file, big, *common, "train.batch_size=8"), log=quiet)
    cfg = tiny_config(train_file, small, *common, "train.batch_size=2", "train.grad_accum=4")
    train_sft(cfg, log=quiet)

    assert len(step_losses(big)) == 3
    assert step_losses(small) == pytest.approx(step_losses(big), rel=1e-5)
    for name, tensor in weights(big).items():
        torch.testing.assert_close(weights(small)[name], tensor, atol=1e-5, rtol=1e-4)


def test_resume_equals_a_straight_run(train_file, tmp_path, monkeypatch):
    # Dropout > 0: the resumed steps only match if the RNG state is restored too.
    common = [
        "adapter.dropout=0.1", "train.max_steps=4", "train.save_every=2",
        "train.eval_every=2", "data.validation_split=0.25",
    ]  # fmt: skip
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train_sft(tiny_config(train_file, straight, *common), log=quiet)

    interrupt_after_checkpoint(monkeypatch, at_step=2)
    with pytest.raises(KeyboardInterrupt):
        train_sft(tiny_config(train_file, resumed, *common), log=quiet)
    monkeypatch.undo()
    assert read_summary(resumed)["status"] == "interrupted"
    assert not (resumed / "adapter").exists()
    torch.manual_seed(1234)  # nothing but the checkpoint may carry state over
    train_sft(tiny_config(train_file, resumed, *common), resume=True, log=quiet)

    assert read_summary(resumed)["status"] == "completed"
    rows = [(row["step"], "loss" in row) for row in read_metrics(resumed) if "event" not in row]
    assert rows == [(1, True), (2, True), (2, False), (3, True), (4, True), (4, False)]
    assert step_losses(resumed) == pytest.approx(step_losses(straight), rel=1e-6)
    for name, tensor in weights(straight).items():
        torch.testing.assert_close(weights(resumed)[name], tensor, atol=1e-6, rtol=1e-5)


def test_packed_run_trains_every_token_once(train_file, tokenizer, tmp_path):
    cfg = tiny_config(
        train_file, tmp_path / "run", "data.packing=true", "data.max_length=128",
        "train.max_steps=null", "train.epochs=1", "train.batch_size=2",
    )  # fmt: skip
    summary = train_sft(cfg, log=quiet)
    examples, _ = tokenize_examples(read_examples(train_file), tokenizer, 128)
    assert summary["status"] == "completed" and math.isfinite(summary["final_loss"])
    assert summary["train_tokens"] == sum(len(e.input_ids) for e in examples)
    assert summary["trained_tokens"] == sum(e.n_trained for e in examples)
    assert summary["steps"] < len(examples) / 2  # several examples per row


@pytest.mark.parametrize("adapter", ["lora", "full"])
def test_gradient_checkpointing_changes_memory_not_results(adapter, train_file, tmp_path):
    common = [f"adapter.type={adapter}", "adapter.dropout=0", "train.max_steps=3"]
    plain, checkpointed = tmp_path / "plain", tmp_path / "checkpointed"
    train_sft(tiny_config(train_file, plain, *common), log=quiet)
    cfg = tiny_config(train_file, checkpointed, *common, "model.gradient_checkpointing=true")
    train_sft(cfg, log=quiet)
    assert step_losses(checkpointed) == pytest.approx(step_losses(plain), rel=1e-5)
    for name, tensor in weights(plain).items():
        torch.testing.assert_close(weights(checkpointed)[name], tensor, atol=1e-5, rtol=1e-4)
