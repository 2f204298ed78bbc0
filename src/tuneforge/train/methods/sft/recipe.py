"""Supervised fine-tuning, top to bottom: validate, set up, loop, save."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from tuneforge.config import RunConfig, dump_config
from tuneforge.data import Batch, BatchPlan, TokenizedExample
from tuneforge.errors import TrainingDiverged
from tuneforge.log import info
from tuneforge.models import attach_adapter, count_parameters, load_model, load_tokenizer
from tuneforge.train.forward import direct_head_supported, trained_logits
from tuneforge.train.loop import LoopState, Trainer, count_steps
from tuneforge.train.methods.sft.loss import token_cross_entropy
from tuneforge.train.plots import plot_losses
from tuneforge.train.run_dir import RunDir
from tuneforge.train.setup import (
    forward_token_budget,
    load_training_data,
    make_accelerator,
    make_optimizer,
    make_scheduler,
    peak_memory_mb,
)


def train_sft(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    """Fine-tune cfg.model on cfg.data.train; returns the run summary (also summary.json)."""
    # 1. Validate everything that can fail fast before touching the output directory.
    tokenizer = load_tokenizer(cfg.model.name_or_path, log)
    data = load_training_data(cfg, tokenizer)
    run = RunDir(Path(cfg.output.dir))
    run.claim(resume=resume, overwrite=cfg.output.overwrite)
    dump_config(cfg, run.config)
    torch.manual_seed(cfg.train.seed)

    # 2. Components.
    model = load_model(cfg.model, quantize_4bit=cfg.adapter.type == "qlora", progress=log)
    model = attach_adapter(model, cfg.adapter, cfg.model.gradient_checkpointing)
    trainable, total = count_parameters(model)
    log(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.2f}%)")
    accelerator = make_accelerator(cfg.train)
    plan = BatchPlan(
        data.train, cfg.train.batch_size, tokenizer.pad_token_id, cfg.train.seed,
        cfg.data.max_length, cfg.data.packing, cfg.data.group_by_length,
    )  # fmt: skip
    optimizer = make_optimizer(model, cfg.train)
    model, optimizer = accelerator.prepare(model, optimizer)
    direct = direct_head_supported(model, accelerator.num_processes > 1)

    def loss_fn(model, batch: Batch):
        return token_cross_entropy(*trained_logits(model, batch, direct))

    scheduler = make_scheduler(optimizer, cfg.train, count_steps(plan.num_batches, cfg.train))
    evaluate = None
    if data.validation:
        evaluate = _evaluator(
            model, data.validation, cfg, tokenizer.pad_token_id, loss_fn, accelerator
        )
    budget = forward_token_budget(cfg.train.max_tokens_per_forward, accelerator.device)
    trainer = Trainer(
        model=model, optimizer=optimizer, scheduler=scheduler, accelerator=accelerator,
        train_plan=plan, loss_fn=loss_fn, cfg=cfg.train, run=run, evaluate=evaluate,
        save_checkpoints=bool(cfg.train.save_every or cfg.train.early_stopping_patience),
        max_tokens_per_forward=budget,
    )  # fmt: skip
    state = trainer.resume() if resume else LoopState()
    if resume:
        log(f"resuming at step {state.step} of {trainer.total_steps}" if state.step else
            f"no checkpoint in {run.checkpoints}; starting from step 0")  # fmt: skip

    # 3. The loop; whatever happens, the run directory says how it ended.
    status = "failed"
    try:
        state = trainer.fit(state)
        status = "completed"
    except TrainingDiverged:
        status = "diverged"
        raise
    except KeyboardInterrupt:
        status = "interrupted"
        raise
    finally:
        summary = _summary(status, state, run, data.stats, trainable, total)
        run.write_summary(summary)
        if run.metrics.exists():
            title = f"{run.root.name}: {cfg.adapter.type} on {cfg.model.name_or_path}"
            plot_losses(run.read_metrics(), run.plot, title)

    # 4. Save the result where eval, merge and serve look for it.
    unwrapped = accelerator.unwrap_model(model)
    output = run.root / ("model" if cfg.adapter.type == "full" else "adapter")
    unwrapped.save_pretrained(output)
    tokenizer.save_pretrained(output)
    summary["output"] = str(output)
    run.write_summary(summary)
    return summary


def _evaluator(
    model, examples: list[TokenizedExample], cfg: RunConfig, pad_id, loss_fn, accelerator
):
    plan = BatchPlan(examples, cfg.train.batch_size, pad_id, cfg.train.seed, cfg.data.max_length)

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        model.eval()
        loss, correct, trained = 0.0, 0, 0
        for i in range(plan.num_batches):
            batch = plan.batch(0, i).to(accelerator.device)
            with accelerator.autocast():
                batch_loss, batch_correct = loss_fn(model, batch)
            loss += batch_loss.item()
            correct += batch_correct
            trained += batch.n_trained
        return {"eval_loss": loss / trained, "eval_token_accuracy": correct / trained}

    return evaluate


def _summary(status, state: LoopState, run: RunDir, stats, trainable, total) -> dict[str, Any]:
    rows = run.read_metrics()
    train_rows = [r for r in rows if "loss" in r]
    return {
        "status": status,
        "steps": state.step,
        "train_tokens": state.train_tokens,
        "trained_tokens": state.trained_tokens,
        "train_seconds": round(state.train_seconds, 3),
        "tokens_per_second": state.train_tokens / state.train_seconds
        if state.train_seconds
        else 0.0,
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "final_loss": train_rows[-1]["loss"] if train_rows else None,
        "best_eval_loss": state.best_eval_loss,
        "best_step": state.best_step,
        "stopped_early": state.stopped_early,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "data": asdict(stats),
    }
