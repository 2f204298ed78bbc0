"""Supervised fine-tuning, top to bottom: validate, set up, loop, save."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.data import Batch, BatchPlan, TokenizedExample
from tuneforge.log import info
from tuneforge.models import load_tokenizer
from tuneforge.models.logprobs import trained_logits
from tuneforge.train.loop import Evaluator
from tuneforge.train.methods.sft.loss import token_cross_entropy
from tuneforge.train.session import Session, open_session
from tuneforge.train.setup import load_training_data, report_length_cuts


def train_sft(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    """Fine-tune cfg.model on cfg.data.train; returns the run summary (also summary.json)."""
    # Everything that can fail fast is checked before the run directory is touched.
    tokenizer = load_tokenizer(cfg.model.name_or_path, log)
    data = load_training_data(cfg, tokenizer)
    stats = data.stats
    report_length_cuts(
        log, len(data.train), stats.dropped_no_target, stats.truncated, cfg.data.max_length
    )
    session = open_session(cfg, tokenizer, resume, log)
    plan = BatchPlan(
        data.train, cfg.train.batch_size, tokenizer.pad_token_id, cfg.train.seed,
        cfg.data.max_length, cfg.data.packing, cfg.data.group_by_length,
    )  # fmt: skip

    def loss_fn(model, batch: Batch):
        loss, correct = token_cross_entropy(*trained_logits(model, batch, session.direct_head))
        return loss, {"token_accuracy": float(correct)}

    evaluate = None
    if data.validation:
        evaluate = _evaluator(session, data.validation, tokenizer.pad_token_id, loss_fn)
    return session.fit(plan, loss_fn, evaluate, asdict(data.stats))


def _evaluator(session: Session, examples: list[TokenizedExample], pad_id, loss_fn) -> Evaluator:
    cfg, model, device = session.cfg, session.model, session.accelerator.device
    plan = BatchPlan(examples, cfg.train.batch_size, pad_id, cfg.train.seed, cfg.data.max_length)

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        model.eval()
        loss, correct, trained = 0.0, 0, 0
        for i in range(plan.num_batches):
            batch = plan.batch(0, i).to(device)
            with session.autocast():
                batch_loss, metrics = loss_fn(model, batch)
            loss += batch_loss.item()
            correct += int(metrics["token_accuracy"])
            trained += batch.n_trained
        return {"eval_loss": loss / trained, "eval_token_accuracy": correct / trained}

    return Evaluator(evaluate)  # the best checkpoint has the lowest validation loss
