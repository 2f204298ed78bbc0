"""SimPO: length-normalised implicit rewards with a target margin; no reference model."""

from __future__ import annotations

from typing import Any

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.train.methods.simpo.loss import simpo_loss
from tuneforge.train.pair_batches import PairBatch
from tuneforge.train.paired import reward_metrics, start_pair_training


def train_simpo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "simpo"
    run = start_pair_training(cfg, resume, log)
    direct = run.session.direct_head

    def loss_fn(model, batch: PairBatch):
        sums, counts = batch.logps(model, direct)
        chosen, rejected = sums.chunk(2)
        chosen_mean, rejected_mean = (sums / counts).chunk(2)
        loss, chosen_reward, rejected_reward = simpo_loss(
            chosen_mean, rejected_mean, method.beta, method.gamma
        )
        return loss.sum(), reward_metrics(chosen_reward, rejected_reward, chosen, rejected)

    return run.session.fit(run.plan, loss_fn, run.evaluator(loss_fn), run.data.summary())
