"""ORPO: SFT on the chosen reply plus an odds-ratio preference term; no reference model."""

from __future__ import annotations

from typing import Any

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.train.methods.orpo.loss import orpo_loss
from tuneforge.train.pair_batches import PairBatch
from tuneforge.train.paired import reward_metrics, start_pair_training


def train_orpo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "orpo"
    run = start_pair_training(cfg, resume, log)
    direct = run.session.direct_head

    def loss_fn(model, batch: PairBatch):
        sums, counts = batch.logps(model, direct)
        chosen, rejected = sums.chunk(2)
        chosen_mean, rejected_mean = (sums / counts).chunk(2)
        loss, ratio_term = orpo_loss(chosen_mean, rejected_mean, method.beta)
        # As in the paper and TRL: rewards are beta x mean log-probability.
        metrics = reward_metrics(
            method.beta * chosen_mean.detach(), method.beta * rejected_mean.detach(),
            chosen, rejected,
        )  # fmt: skip
        metrics["odds_ratio_loss"] = float(ratio_term.sum())
        return loss.sum(), metrics

    return run.session.fit(run.plan, loss_fn, run.evaluator(loss_fn), run.data.summary())
