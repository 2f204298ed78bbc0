"""Reward model: the causal LM backbone with a scalar head, trained Bradley-Terry on
preference pairs; `models.reward.load_reward_model` loads the result for PPO and eval."""

from __future__ import annotations

from typing import Any

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.models import load_tokenizer
from tuneforge.train.methods.reward.loss import bradley_terry_loss
from tuneforge.train.pairs import PairBatch, PairPlan, load_pair_data, pair_evaluator
from tuneforge.train.session import open_session


def train_reward(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "reward"
    tokenizer = load_tokenizer(cfg.model.name_or_path, log)
    data = load_pair_data(cfg, tokenizer)
    session = open_session(cfg, tokenizer, resume, log, scalar_head=True)
    pad, size, seed = tokenizer.pad_token_id, cfg.train.batch_size, cfg.train.seed
    plan = PairPlan(data.train, size, pad, seed, cfg.data.group_by_length)

    def loss_fn(model, batch: PairBatch):
        seq = batch.sequences
        # The head reads the last non-padding token of each (right-padded) row.
        scores = model(input_ids=seq.input_ids, attention_mask=seq.attention_mask).logits
        chosen, rejected = scores[:, 0].float().chunk(2)
        margin = batch.margins if method.use_margin else None
        loss, correct = bradley_terry_loss(chosen, rejected, margin)
        return loss.sum(), {
            "accuracy": float(correct.sum()),
            "chosen_score": float(chosen.detach().sum()),
            "rejected_score": float(rejected.detach().sum()),
        }

    evaluate = None
    if data.validation:
        validation = PairPlan(data.validation, size, pad, seed)
        evaluate = pair_evaluator(session.model, validation, loss_fn, session.accelerator)
    return session.fit(plan, loss_fn, evaluate, data.summary())
