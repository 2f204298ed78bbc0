"""Reward model: the causal LM backbone with a scalar head, trained Bradley-Terry on
preference pairs; `models.reward.load_reward_model` loads the result for PPO and eval."""

from __future__ import annotations

from typing import Any

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.train.methods.reward.loss import bradley_terry_loss
from tuneforge.train.pair_batches import PairBatch
from tuneforge.train.paired import start_pair_training


def train_reward(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "reward"
    # The score head reads each row's last token: one sequence per row, never packed.
    run = start_pair_training(cfg, resume, log, scalar_head=True, packable=False)

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

    return run.session.fit(run.plan, loss_fn, run.evaluator(loss_fn), run.data.summary())
