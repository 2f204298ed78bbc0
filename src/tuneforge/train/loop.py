"""The one training loop every method shares.

A method supplies `loss_fn(model, batch) -> (summed loss, {metric: summed value})`; the
loop owns accumulation, clipping, schedules, logging, evaluation, early stopping,
checkpoints and resume. A batch says how many units its loss is summed over
(`n_units`: trained tokens for SFT, pairs for DPO). Gradient accumulation is normalised
by the units of the whole optimizer step: each micro-batch contributes
sum_loss / units_in_step, so the gradient equals that of one big batch however the step
is split. Metrics are logged as their sums divided by the same units.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from functools import cached_property
from typing import Any

import torch

from tuneforge.config import TrainConfig
from tuneforge.data import BatchPlan
from tuneforge.errors import TrainingDiverged, TrainingPaused
from tuneforge.run_dir import RunDir, latest_checkpoint
from tuneforge.train import pause
from tuneforge.train.checkpoint import load_checkpoint, prune_checkpoints, save_checkpoint
from tuneforge.train.progress import TrainingProgress

Metric = float | tuple[float, float]
"""A sum over the batch's units, or (sum, count) for a metric averaged over its own
count (e.g. the reward of desirable examples only)."""
LossFn = Callable[[Any, Any], tuple[torch.Tensor, dict[str, Metric]]]


def add_metrics(totals: dict[str, Metric], metrics: dict[str, Metric]) -> None:
    for name, value in metrics.items():
        if isinstance(value, tuple):
            old = totals.get(name, (0.0, 0.0))
            assert isinstance(old, tuple)
            totals[name] = (old[0] + value[0], old[1] + value[1])
        else:
            old_sum = totals.get(name, 0.0)
            assert not isinstance(old_sum, tuple)
            totals[name] = old_sum + value


def mean_metrics(totals: dict[str, Metric], units: int, prefix: str = "") -> dict[str, float]:
    """Each metric's mean: over `units`, or over its own count (skipped when that is 0)."""
    means = {}
    for name, value in totals.items():
        if isinstance(value, tuple):
            if value[1]:
                means[prefix + name] = value[0] / value[1]
        else:
            means[prefix + name] = value / max(units, 1)
    return means


@dataclass(frozen=True)
class Evaluator:
    """A validation pass and the metric of its result that picks the best checkpoint
    (the one early stopping waits on and pruning never deletes)."""

    run: Callable[[], dict[str, float]]
    metric: str = "eval_loss"
    higher_is_better: bool = False

    def __call__(self) -> dict[str, float]:
        return self.run()

    def improves(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best if self.higher_is_better else value < best


def count_steps(num_batches: int, cfg: TrainConfig) -> int:
    """Optimizer steps in the run: max_steps, else epochs x ceil(batches / grad_accum)."""
    return cfg.max_steps or cfg.epochs * math.ceil(num_batches / cfg.grad_accum)


@dataclass
class LoopState:
    """Where training stands; saved in every checkpoint and restored on resume."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    train_tokens: int = 0
    trained_tokens: int = 0
    train_seconds: float = 0.0
    best_score: float | None = None
    """The best value of the evaluator's metric so far, at `best_step`."""
    best_step: int | None = None
    best_eval_loss: float | None = None
    """eval_loss at best_step, when the evaluator reports one."""
    evals_without_improvement: int = 0
    stopped_early: bool = False
    last_loss: float | None = None


@dataclass
class StepResult:
    """What one optimizer step did: loss and metric sums over its `units`."""

    loss_sum: float
    units: int
    trained: int
    tokens: int
    grad_norm: float
    metric_sums: dict[str, Metric]


@dataclass
class _Window:
    """Accumulates train metrics between two log rows."""

    loss_sum: float = 0.0
    units: int = 0
    tokens: int = 0
    seconds: float = 0.0
    grad_norms: list[float] = field(default_factory=list)
    metric_sums: dict[str, Metric] = field(default_factory=dict)

    def add(self, step: StepResult) -> None:
        self.loss_sum += step.loss_sum
        self.units += step.units
        self.tokens += step.tokens
        self.grad_norms.append(step.grad_norm)
        add_metrics(self.metric_sums, step.metric_sums)

    def row(self, state: LoopState, lr: float, steps_per_epoch: int) -> dict[str, Any]:
        units = max(self.units, 1)
        return {
            "step": state.step,
            "epoch": round(state.step / steps_per_epoch, 4),
            "loss": self.loss_sum / units,
            **mean_metrics(self.metric_sums, units),
            "lr": lr,
            "grad_norm": max(self.grad_norms) if self.grad_norms else None,
            "tokens_per_second": self.tokens / max(self.seconds, 1e-9),
            "trained_tokens": state.trained_tokens,
        }


@dataclass
class Trainer:
    """Everything the loop needs, set up by a method's recipe."""

    model: Any
    optimizer: torch.optim.Optimizer
    scheduler: Any
    accelerator: Any
    train_plan: BatchPlan
    loss_fn: LossFn
    cfg: TrainConfig
    run: RunDir
    evaluate: Evaluator | Callable[[], dict[str, float]] | None = None
    """A bare callable is judged by its eval_loss, lower is better."""
    save_checkpoints: bool = False
    max_tokens_per_forward: int | None = None
    """Resolved train.max_tokens_per_forward: each micro-batch is split into passes this big."""
    lr: float = 0.0
    """Learning rate of the latest optimizer step."""
    autocast: Callable[[], AbstractContextManager] | None = None
    """The precision context of forward passes (setup.make_autocast); accelerate's own
    when None."""

    def __post_init__(self) -> None:
        self.autocast = self.autocast or self.accelerator.autocast
        if self.evaluate is not None and not isinstance(self.evaluate, Evaluator):
            self.evaluate = Evaluator(self.evaluate)

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.train_plan.num_batches / self.cfg.grad_accum)

    @cached_property
    def _trainable(self) -> list[torch.nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    @property
    def total_steps(self) -> int:
        return count_steps(self.train_plan.num_batches, self.cfg)

    def resume(self) -> LoopState:
        """Restore the newest complete checkpoint, or start fresh when there is none."""
        path = latest_checkpoint(self.run.checkpoints)
        if path is None:
            self.run.truncate_metrics(0)  # rows of an attempt that saved nothing are replayed
            return LoopState()
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler, self.train_plan)
        self.run.truncate_metrics(state["step"])
        return LoopState(**{k: v for k, v in state.items() if k in LoopState.__dataclass_fields__})

    def fit(self, state: LoopState) -> LoopState:
        self.model.train()
        window = _Window()
        with TrainingProgress(self.total_steps, state.step) as progress:
            while state.step < self.total_steps and not state.stopped_early:
                started = time.perf_counter()
                result = self._optimizer_step(state)
                window.seconds += time.perf_counter() - started
                state.train_seconds += time.perf_counter() - started
                state.step += 1
                state.train_tokens += result.tokens
                state.trained_tokens += result.trained
                state.last_loss = result.loss_sum / result.units
                window.add(result)
                progress.step(state.step, state.last_loss, window.tokens / window.seconds)
                at_end = state.step == self.total_steps
                if state.step % self.cfg.log_every == 0 or at_end:
                    row = window.row(state, self.lr, self.steps_per_epoch)
                    self.run.append_metrics(row)
                    progress.log(row)
                    window = _Window()
                improved = self._maybe_evaluate(state, progress, at_end)
                self._maybe_checkpoint(state, improved)
                if pause.requested() and not at_end:
                    self._save(state)
                    raise TrainingPaused(state.step)
        return state

    def _optimizer_step(self, state: LoopState) -> StepResult:
        """One optimizer step over grad_accum micro-batches; records the learning rate
        the step used. The gradient norm is the one before clipping."""
        if state.batch_in_epoch >= self.train_plan.num_batches:
            state.epoch += 1
            state.batch_in_epoch = 0
        stop = min(state.batch_in_epoch + self.cfg.grad_accum, self.train_plan.num_batches)
        device = self.accelerator.device
        chunks = [
            chunk
            for i in range(state.batch_in_epoch, stop)
            for chunk in self.train_plan.batch(state.epoch, i).split(self.max_tokens_per_forward)
        ]
        state.batch_in_epoch = stop
        # Counted on the host, before the move, so no device sync is spent on it.
        step_units = sum(b.n_units for b in chunks)
        step_trained = sum(b.n_trained for b in chunks)
        step_tokens = sum(b.n_tokens for b in chunks)
        micro = [chunk.to(device) for chunk in chunks]
        loss_total = 0.0
        metric_sums: dict[str, Metric] = {}
        for i, batch in enumerate(micro):
            # Only the last micro-batch synchronises gradients across processes.
            sync = self.accelerator.no_sync(self.model) if i < len(micro) - 1 else nullcontext()
            assert self.autocast is not None
            with sync, self.autocast():
                loss_sum, metrics = self.loss_fn(self.model, batch)
                self.accelerator.backward(loss_sum / step_units)
            loss_total += loss_sum.item()
            add_metrics(metric_sums, metrics)
        if not math.isfinite(loss_total):
            raise TrainingDiverged(
                f"loss became {loss_total} at step {state.step + 1}; the last good checkpoint "
                "is kept. Lower train.lr, keep train.max_grad_norm set, or check the data."
            )
        max_norm = self.cfg.max_grad_norm or float("inf")
        grad_norm = float(self.accelerator.clip_grad_norm_(self._trainable, max_norm))
        self.lr = self.optimizer.param_groups[0]["lr"]
        self.optimizer.step()
        self.scheduler.step()
        # Zeroed in place rather than freed: the gradients are then allocated once, not again
        # every step in the middle of a heap the activations just fragmented (on CPU that
        # freeing and reallocating left SFT's peak RSS 7% higher at the same speed).
        self.optimizer.zero_grad(set_to_none=False)
        return StepResult(loss_total, step_units, step_trained, step_tokens, grad_norm, metric_sums)

    def _maybe_evaluate(self, state: LoopState, progress: TrainingProgress, at_end: bool) -> bool:
        every = self.cfg.eval_every
        if self.evaluate is None or every is None or not (state.step % every == 0 or at_end):
            return False
        evaluator = self.evaluate
        assert isinstance(evaluator, Evaluator)
        metrics = evaluator()
        self.model.train()
        row = {"step": state.step, **metrics}
        self.run.append_metrics(row)
        progress.log(row)
        score = metrics[evaluator.metric]
        improved = evaluator.improves(score, state.best_score)
        if improved:
            state.best_score, state.best_step = score, state.step
            state.best_eval_loss = metrics.get("eval_loss")
            state.evals_without_improvement = 0
        else:
            state.evals_without_improvement += 1
            patience = self.cfg.early_stopping_patience
            state.stopped_early = (
                patience is not None and state.evals_without_improvement >= patience
            )
        return improved

    def _maybe_checkpoint(self, state: LoopState, improved: bool) -> None:
        if not self.save_checkpoints or state.step == self.total_steps and not improved:
            return
        every = self.steps_per_epoch if self.cfg.save_every == "epoch" else self.cfg.save_every
        if not (improved or (every and state.step % every == 0)):
            return
        self._save(state)

    def _save(self, state: LoopState) -> None:
        save_checkpoint(
            self.run.checkpoints,
            state.step,
            self.model,
            self.optimizer,
            self.scheduler,
            asdict(state),
            self.train_plan.state_dict() if hasattr(self.train_plan, "state_dict") else None,
        )
        prune_checkpoints(self.run.checkpoints, self.cfg.keep_checkpoints, protect=state.best_step)
