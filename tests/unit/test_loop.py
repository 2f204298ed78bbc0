"""The shared loop on a toy model (milliseconds per step): accumulation normalised by
tokens, early stopping that keeps the best checkpoint, divergence, and resume."""

from __future__ import annotations

import math
import random

import pytest
import torch

from tests.helpers import interrupt_after_checkpoint
from tuneforge.config import TrainConfig
from tuneforge.data import IGNORE, BatchPlan, TokenizedExample
from tuneforge.errors import TrainingDiverged
from tuneforge.run_dir import RunDir
from tuneforge.train.loop import LoopState, Trainer, count_steps
from tuneforge.train.methods.sft.loss import token_cross_entropy
from tuneforge.train.setup import make_accelerator, make_optimizer, make_scheduler

VOCAB = 32


class ToyLM(torch.nn.Module):
    def __init__(self, dropout: float):
        super().__init__()
        self.embed = torch.nn.Embedding(VOCAB, 16)
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(16, VOCAB)

    def forward(self, input_ids):
        return self.head(self.dropout(self.embed(input_ids)))  # [batch, seq, vocab]


def toy_loss(model, batch):
    selected = batch.targets != IGNORE
    loss, correct = token_cross_entropy(model(batch.input_ids)[selected], batch.targets[selected])
    return loss, {"token_accuracy": float(correct)}


def toy_examples(n: int = 24, seed: int = 0) -> list[TokenizedExample]:
    rng = random.Random(seed)
    examples = []
    for _ in range(n):
        ids = [rng.randrange(1, VOCAB) for _ in range(rng.randint(3, 12))]
        start = rng.randint(0, len(ids) - 2)  # a prompt part with no targets
        targets = [ids[t + 1] if t >= start else IGNORE for t in range(len(ids) - 1)]
        examples.append(TokenizedExample(ids, targets + [IGNORE]))
    return examples


def make_trainer(tmp_path, evaluate=None, dropout=0.0, save=False, **train) -> Trainer:
    cfg = TrainConfig(
        **{"lr": 0.05, "warmup_ratio": 0, "log_every": 1, "mixed_precision": "no", **train}
    )
    torch.manual_seed(cfg.seed)
    model = ToyLM(dropout)
    optimizer = make_optimizer(model, cfg)
    plan = BatchPlan(toy_examples(), cfg.batch_size, 0, cfg.seed, 64, group_by_length=False)
    run = RunDir(tmp_path)
    run.claim(resume=True, overwrite=False)
    return Trainer(
        model=model, optimizer=optimizer,
        scheduler=make_scheduler(optimizer, cfg, count_steps(plan.num_batches, cfg)),
        accelerator=make_accelerator(cfg), train_plan=plan, loss_fn=toy_loss, cfg=cfg,
        run=run, evaluate=evaluate, save_checkpoints=save,
    )  # fmt: skip


def losses(trainer: Trainer) -> list[float]:
    return [row["loss"] for row in trainer.run.read_metrics() if "loss" in row]


def test_count_steps():
    assert count_steps(10, TrainConfig(epochs=3, grad_accum=4)) == 3 * 3
    assert count_steps(10, TrainConfig(epochs=3, max_steps=5)) == 5


def test_batch_times_accumulation_is_one_big_batch(tmp_path):
    big = make_trainer(tmp_path / "big", batch_size=8, grad_accum=1, max_steps=3)
    small = make_trainer(tmp_path / "small", batch_size=2, grad_accum=4, max_steps=3)
    big.fit(LoopState())
    small.fit(LoopState())
    assert losses(big) == pytest.approx(losses(small), rel=1e-6)
    for a, b in zip(big.model.parameters(), small.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_epochs_see_every_token_once_each(tmp_path):
    trainer = make_trainer(tmp_path, batch_size=5, grad_accum=2, epochs=2)
    assert (trainer.train_plan.num_batches, trainer.total_steps) == (5, 6)
    state = trainer.fit(LoopState())
    tokens = sum(len(e.input_ids) for e in toy_examples())
    assert (state.step, state.epoch, state.train_tokens) == (6, 1, 2 * tokens)
    assert [row["epoch"] for row in trainer.run.read_metrics()][-1] == 2.0


def test_log_rows_average_over_their_window(tmp_path):
    every_step = make_trainer(tmp_path / "a", max_steps=4)
    every_step.fit(LoopState())
    windowed = make_trainer(tmp_path / "b", max_steps=4, log_every=3)
    windowed.fit(LoopState())
    rows = windowed.run.read_metrics()
    assert [row["step"] for row in rows] == [3, 4]  # and the last step, always
    per_step = every_step.run.read_metrics()
    trained = [r["trained_tokens"] for r in per_step]
    counts = [trained[0]] + [b - a for a, b in zip(trained, trained[1:], strict=False)]
    mean = sum(r["loss"] * n for r, n in zip(per_step[:3], counts, strict=False)) / trained[2]
    assert rows[0]["loss"] == pytest.approx(mean, rel=1e-6)
    assert set(rows[0]) >= {"step", "epoch", "loss", "lr", "grad_norm", "tokens_per_second"}


def test_early_stopping_keeps_the_best_checkpoint(tmp_path):
    scripted = iter([3.0, 2.0, 2.5, 2.6, 1.0])
    evaluate = lambda: {"eval_loss": next(scripted), "eval_token_accuracy": 0.5}  # noqa: E731
    trainer = make_trainer(
        tmp_path, evaluate, save=True, max_steps=10, eval_every=1, save_every=1,
        keep_checkpoints=1, early_stopping_patience=2,
    )  # fmt: skip
    state = trainer.fit(LoopState())
    assert (state.step, state.stopped_early) == (4, True)
    assert (state.best_eval_loss, state.best_step) == (2.0, 2)
    kept = sorted(p.name for p in trainer.run.checkpoints.iterdir())
    assert kept == ["step-2", "step-4"]  # the newest, and the best however old
    eval_rows = [r for r in trainer.run.read_metrics() if "eval_loss" in r]
    assert [r["eval_loss"] for r in eval_rows] == [3.0, 2.0, 2.5, 2.6]


def test_nan_loss_stops_before_the_update(tmp_path):
    calls = []

    def poisoned(model, batch):
        calls.append(1)
        loss, metrics = toy_loss(model, batch)
        return (loss * math.nan if len(calls) == 3 else loss), metrics

    trainer = make_trainer(tmp_path, save=True, max_steps=5, save_every=2)
    trainer.loss_fn = poisoned
    state = LoopState()
    with pytest.raises(TrainingDiverged, match="loss became nan at step 3"):
        trainer.fit(state)
    assert state.step == 2
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert [r["step"] for r in trainer.run.read_metrics()] == [1, 2]
    assert [p.name for p in trainer.run.checkpoints.iterdir()] == ["step-2"]


def test_resume_replays_the_same_steps_with_dropout(tmp_path, monkeypatch):
    straight = make_trainer(tmp_path / "straight", dropout=0.3, max_steps=4)
    straight.fit(LoopState())

    interrupt_after_checkpoint(monkeypatch, at_step=2)
    first = make_trainer(tmp_path / "resumed", dropout=0.3, save=True, max_steps=4, save_every=2)
    with pytest.raises(KeyboardInterrupt):
        first.fit(LoopState())
    monkeypatch.undo()
    torch.manual_seed(999)  # a fresh process: nothing carried over but the checkpoint
    second = make_trainer(tmp_path / "resumed", dropout=0.3, save=True, max_steps=4, save_every=2)
    state = second.resume()
    assert state.step == 2
    second.fit(state)
    assert losses(second) == pytest.approx(losses(straight), rel=1e-6)
    for a, b in zip(straight.model.parameters(), second.model.parameters(), strict=True):
        torch.testing.assert_close(a, b)
