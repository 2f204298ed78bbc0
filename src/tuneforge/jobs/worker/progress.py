"""What a running job's run directory says, turned into the job's events and checkpoints.

Polled by the worker while the trainer runs (it reads only through run_dir.py):
- each new metrics row becomes a `metrics` event, "Step 12/40: training loss=1.234"
  with OpenAI's names in `data`; a resumed run replays the steps after its checkpoint,
  so only steps past the last one reported are (reporting resumes from the store after
  a server restart, so events never repeat);
- each new complete checkpoint becomes a checkpoint object whose model id
  (`ft:...:ckpt-step-N`) is registered for chat at once, owned by the job's
  organisation; one the trainer rotated away is removed from both.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuneforge.jobs.result_csv import metrics_event
from tuneforge.jobs.store import JobRecord, JobStore
from tuneforge.jobs.train_spec import checkpoint_model_id
from tuneforge.run_dir import Checkpoint, RunDir
from tuneforge.serve.registry import Registry, write_entry

# OpenAI's checkpoint `metrics` keys, from a metrics event's data.
CHECKPOINT_METRICS = (
    "step", "train_loss", "train_mean_token_accuracy", "valid_loss",
    "valid_mean_token_accuracy", "full_valid_loss", "full_valid_mean_token_accuracy",
)  # fmt: skip


@dataclass
class JobProgress:
    job: JobRecord
    store: JobStore
    registry: Registry
    model_id: str
    """The fine-tuned model id the job will have; its checkpoints are named after it."""
    planned_steps: int
    """The step count estimated at validation, until the trainer reports its own."""
    start_step: int = 0
    """The step this attempt starts from (its checkpoint's, when resuming)."""
    started: float = field(default_factory=time.monotonic)
    latest: dict[str, Any] = field(default_factory=dict)
    """Newest training and validation values: what a checkpoint's metrics show."""
    reported_through: int = 0
    """Steps up to this one were reported by an earlier process (from the store)."""
    reported: set[tuple[int, bool]] = field(default_factory=set)
    """(step, is validation) of the rows this process reported."""

    def __post_init__(self) -> None:
        self.reported_through = self.store.last_metrics_step(self.job.id) or 0

    @property
    def run(self) -> RunDir:
        assert self.job.run_dir is not None
        return RunDir(Path(self.job.run_dir))

    def total_steps(self) -> int:
        summary = self.run.read_summary() or {}
        return int(summary.get("total_steps") or self.planned_steps)

    def poll(self) -> None:
        self._report_metrics()
        self._sync_checkpoints()

    def estimated_finish(self) -> int | None:
        """Now + the time the steps left take at this attempt's pace so far."""
        step = self.latest.get("step")
        if step is None or step <= self.start_step:
            return None
        pace = (time.monotonic() - self.started) / (step - self.start_step)
        return int(time.time() + pace * max(0, self.total_steps() - step))

    def add_final_checkpoint(self, step: int) -> None:
        """The finished model is the last epoch's checkpoint too, as at OpenAI (the trainer
        writes no checkpoint at its last step: it saves the product instead)."""
        weights = self.run.weights()
        known = self._known()
        if weights is None or weights[1] != "adapter" or step in known:
            return
        self._add_checkpoint(Checkpoint(step, self.run.root))
        self._drop_beyond_kept()

    def _report_metrics(self) -> None:
        total = self.total_steps()
        for row in self.run.read_metrics():
            data = metrics_event(row, total)
            if data is None:
                continue
            self.latest.update(data)
            key = (data["step"], _is_validation(data))
            if data["step"] <= self.reported_through or key in self.reported:
                continue
            self.store.add_event(self.job.id, _message(data, total), type="metrics", data=data)
            self.reported.add(key)

    def _sync_checkpoints(self) -> None:
        known = self._known()
        on_disk = {c.step: c for c in self.run.list_checkpoints() if c.adapter is not None}
        for step, checkpoint in sorted(on_disk.items()):
            if step not in known:
                self._add_checkpoint(checkpoint)
        for step, record in known.items():
            if step not in on_disk and record.path != str(self.run.root):
                self.store.delete_checkpoint(record.id)
                self._unregister(record.fine_tuned_model_checkpoint)

    def _known(self) -> dict[int, Any]:
        found, _ = self.store.list_checkpoints(self.job.org, self.job.id, limit=1000)
        return {c.step_number: c for c in found}

    def _add_checkpoint(self, checkpoint: Checkpoint) -> None:
        model = checkpoint_model_id(self.model_id, checkpoint.step)
        metrics = {k: self.latest[k] for k in CHECKPOINT_METRICS if k in self.latest}
        metrics["step"] = checkpoint.step
        write_entry(
            self.registry.folder, model, checkpoint.path, int(time.time()), owner=self.job.org
        )
        path = str(checkpoint.path)
        self.store.add_checkpoint(self.job.id, checkpoint.step, metrics, model, path)
        self.store.add_event(self.job.id, f"Checkpoint created at step {checkpoint.step}")

    def _drop_beyond_kept(self) -> None:
        kept = self.run.read_config()["train"]["keep_checkpoints"]
        for record in sorted(self._known().values(), key=lambda c: c.step_number)[:-kept]:
            self.store.delete_checkpoint(record.id)
            self._unregister(record.fine_tuned_model_checkpoint)

    def _unregister(self, model: str) -> None:
        (self.registry.folder / f"{model}.json").unlink(missing_ok=True)


def _is_validation(data: dict[str, Any]) -> bool:
    return "valid_loss" in data or "valid_reward_mean" in data


def _message(data: dict[str, Any], total: int) -> str:
    step = f"Step {data['step']}/{total}"
    if "valid_loss" in data:
        return f"{step}: validation loss={data['valid_loss']:.4f}"
    if "valid_reward_mean" in data:
        return f"{step}: validation reward={data['valid_reward_mean']:.4f}"
    if "train_loss" in data:
        return f"{step}: training loss={data['train_loss']:.4f}"
    return step
