"""What every recipe does around its loss: claim the run directory, load the model with
its adapter, run the shared loop with a summary whatever happens, plot, and save.

A recipe validates its data first (so bad input leaves nothing behind), opens a
Session, builds its batch plan and loss on `session.model`, and calls `session.fit`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.errors import TrainingDiverged, TrainingPaused
from tuneforge.log import info
from tuneforge.models import attach_adapter, count_parameters, load_model
from tuneforge.models.logprobs import direct_head_supported
from tuneforge.run_dir import RunDir
from tuneforge.train.checkpoint import write_error
from tuneforge.train.forgetting import GeneralData, load_general_data, mitigate
from tuneforge.train.loop import Evaluator, LoopState, Trainer, count_steps
from tuneforge.train.plots import plot_losses
from tuneforge.train.resume_check import check_resume, describe
from tuneforge.train.setup import (
    forward_token_budget,
    make_accelerator,
    make_autocast,
    make_optimizer,
    make_scheduler,
    mixed_precision,
    peak_memory_mb,
    store_frozen_linears_in_bf16,
)


@dataclass
class Session:
    cfg: RunConfig
    tokenizer: Any
    run: RunDir
    model: Any
    """The trainable model (with its adapter), prepared by accelerate."""
    accelerator: Any
    optimizer: torch.optim.Optimizer
    direct_head: bool
    """Whether forward passes may project only trained positions (train/forward.py)."""
    trainable: int
    total: int
    resume: bool
    log: Callable[[str], None]
    autocast: Callable[[], AbstractContextManager]
    """The run's precision context, for every forward pass (setup.make_autocast)."""
    auxiliary: tuple[str, ...] = field(default=())
    """Modules trained and checkpointed with the model but not part of what is saved
    (a method's own training-only parts, such as PPO's value head)."""
    resume_changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    """Settings a resumed run changed that resume_check accepted: key -> (old, new)."""
    general: GeneralData | None = None
    """General data against forgetting (data.replay, train.ewc), read before the run
    directory was claimed; None when the config asks for neither."""

    @property
    def forward_tokens(self) -> int | None:
        """Most tokens per forward pass: train.max_tokens_per_forward for this device."""
        return forward_token_budget(self.cfg.train.max_tokens_per_forward, self.accelerator.device)

    @property
    def uses_adapter(self) -> bool:
        return self.cfg.adapter.type != "full"

    def fit(
        self, plan, loss_fn, evaluate: Evaluator | None, data_summary: dict[str, Any]
    ) -> dict[str, Any]:
        """Run the loop to the end, write summary.json and the plot whatever happens,
        then save the adapter (or full model) where eval, merge and serve look for it.
        Replay and the penalties against forgetting wrap the plan and the training loss
        here (train/forgetting.py), anchored before a resumed run loads its checkpoint."""
        cfg, run = self.cfg, self.run
        plan, loss_fn = mitigate(self, plan, loss_fn)
        if self.general is not None:
            data_summary = {**data_summary, **self.general.summary()}
        scheduler = make_scheduler(
            self.optimizer, cfg.train, count_steps(plan.num_batches, cfg.train)
        )
        trainer = Trainer(
            model=self.model, optimizer=self.optimizer, scheduler=scheduler,
            accelerator=self.accelerator, train_plan=plan, loss_fn=loss_fn, cfg=cfg.train,
            run=run, evaluate=evaluate, autocast=self.autocast,
            save_checkpoints=bool(cfg.train.save_every or cfg.train.early_stopping_patience),
            max_tokens_per_forward=self.forward_tokens,
        )  # fmt: skip
        state = trainer.resume() if self.resume else LoopState()
        if self.resume:
            self.log(f"resuming at step {state.step} of {trainer.total_steps}" if state.step else
                     f"no checkpoint in {run.checkpoints}; starting from step 0")  # fmt: skip
            self._record_resume(state.step)
        # Readers (serve, jobs) see a run in progress as such, not an earlier attempt's end.
        run.write_summary(
            {
                "status": "running",
                "method": cfg.method.name,
                "steps": state.step,
                "total_steps": trainer.total_steps,
            }
        )
        status = "failed"
        try:
            state = trainer.fit(state)
            status = "completed"
        except TrainingDiverged:
            status = "diverged"
            raise
        except TrainingPaused:
            status = "paused"
            raise
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            summary = self._summary(status, state, data_summary, trainer.evaluate)
            run.write_summary(summary)
            if run.metrics.exists():
                model = cfg.model.name_or_path
                title = f"{run.root.name}: {cfg.method.name}, {cfg.adapter.type} on {model}"
                plot_losses(run.read_metrics(), run.plot, title)
        output = self.save()
        summary["output"] = str(output)
        run.write_summary(summary)
        return summary

    def _record_resume(self, step: int) -> None:
        """Once the checkpoint is loaded (the start can no longer be refused): the new
        settings into config.yaml, and an event row that says what changed where."""
        changes = self.resume_changes
        if changes:
            self.log(f"resuming with changed settings: {describe(changes)}")
            self.run.write_config(self.cfg.model_dump(mode="json"))
        changed = {key: list(values) for key, values in changes.items()}
        self.run.append_event("resumed", step, changed=changed)

    def save(self) -> Path:
        """The product (adapter/ or model/), written whole into a .partial folder and
        renamed: a crash or a full disk never leaves a half-written one for readers."""
        output = self.run.output(self.uses_adapter)
        partial = output.with_name(f"{output.name}.partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            self._write_product(partial)
        except Exception as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise write_error(exc, partial) from exc
        shutil.rmtree(output, ignore_errors=True)
        os.replace(partial, output)
        return output

    def _write_product(self, folder: Path) -> None:
        model = self.accelerator.unwrap_model(self.model)
        held_back = {name: model._modules.pop(name) for name in self.auxiliary}
        try:
            model.save_pretrained(folder)
        finally:
            for name, module in held_back.items():
                model.add_module(name, module)
        self.tokenizer.save_pretrained(folder)

    def _summary(
        self, status: str, state: LoopState, data: dict[str, Any], evaluator: Any
    ) -> dict[str, Any]:
        rows = self.run.read_metrics()
        train_rows = [r for r in rows if "loss" in r]
        seconds = state.train_seconds
        return {
            "status": status,
            "method": self.cfg.method.name,
            "steps": state.step,
            "train_tokens": state.train_tokens,
            "trained_tokens": state.trained_tokens,
            "train_seconds": round(seconds, 3),
            "tokens_per_second": state.train_tokens / seconds if seconds else 0.0,
            "peak_memory_mb": round(peak_memory_mb(), 1),
            "final_loss": train_rows[-1]["loss"] if train_rows else None,
            "best_eval_loss": state.best_eval_loss,
            "best_step": state.best_step,
            "best_metric": None if evaluator is None else evaluator.metric,
            "best_score": state.best_score,
            "stopped_early": state.stopped_early,
            "trainable_parameters": self.trainable,
            "total_parameters": self.total,
            "data": data,
        }


def open_session(
    cfg: RunConfig, tokenizer, resume: bool, log=info, scalar_head: bool = False,
    auxiliary: Mapping[str, Callable[[Any], torch.nn.Module]] | None = None,
    generates: bool = False,
) -> Session:  # fmt: skip
    """Claim the run directory and build the model, adapter, optimizer and accelerator
    (`scalar_head`: a reward model, see models.load_model). `auxiliary` builds modules
    from the model that are registered on it under their names, trained and checkpointed
    with it, and left out when the product is saved. `generates`: the method samples
    with transformers' generate (setup.store_frozen_linears_in_bf16)."""
    run = RunDir(Path(cfg.output.dir))
    # Nothing is written before the start is accepted and the model is built: a refused
    # resume, an unwritable folder or a model that fails to load leave the folder as it
    # was. A resumed run's config.yaml is rewritten only after its checkpoint loads.
    run.check_claim(resume=resume, overwrite=cfg.output.overwrite)
    changes = check_resume(run, cfg) if resume else {}
    general = load_general_data(cfg, tokenizer)  # a bad file fails before anything is built
    torch.manual_seed(cfg.train.seed)
    qlora = cfg.adapter.type == "qlora"
    model = load_model(cfg.model, quantize_4bit=qlora, progress=log, scalar_head=scalar_head)
    model = attach_adapter(model, cfg.adapter, cfg.model.gradient_checkpointing, scalar_head)
    for name, build in (auxiliary or {}).items():
        model.add_module(name, build(model))
    trainable, total = count_parameters(model)
    log(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.2f}%)")
    in_bf16 = store_frozen_linears_in_bf16(model, cfg, generates)
    stored = f"; frozen weights of {in_bf16} Linear layers stored in bf16" if in_bf16 else ""
    log(f"precision: {mixed_precision(cfg.train)[1]}{stored}")
    accelerator = make_accelerator(cfg.train)
    optimizer = make_optimizer(model, cfg.train)
    model, optimizer = accelerator.prepare(model, optimizer)
    direct = direct_head_supported(model, accelerator.num_processes > 1)
    run.claim(resume=resume, overwrite=cfg.output.overwrite)
    if not resume:
        run.write_config(cfg.model_dump(mode="json"))  # the folder is a run from here on
    return Session(
        cfg, tokenizer, run, model, accelerator, optimizer, direct, trainable, total, resume, log,
        make_autocast(cfg.train, accelerator), tuple(auxiliary or ()), changes, general,
    )  # fmt: skip
