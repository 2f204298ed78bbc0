"""SimPO: length-normalised implicit rewards with a target margin; no reference model."""

from __future__ import annotations

from typing import Any

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.models import load_tokenizer
from tuneforge.train.methods.simpo.loss import simpo_loss
from tuneforge.train.pairs import (
    PairBatch,
    PairPlan,
    load_pair_data,
    pair_evaluator,
    reward_metrics,
)
from tuneforge.train.session import open_session


def train_simpo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "simpo"
    tokenizer = load_tokenizer(cfg.model.name_or_path, log)
    data = load_pair_data(cfg, tokenizer)
    session = open_session(cfg, tokenizer, resume, log)
    pad, size, seed = tokenizer.pad_token_id, cfg.train.batch_size, cfg.train.seed
    # Pairs are packed whole into rows (no compute on padding) unless batches are padded
    # on purpose: the sums are the same either way.
    width = 2 * cfg.data.max_length if cfg.data.packing else None
    plan = PairPlan(data.train, size, pad, seed, cfg.data.group_by_length, pack_width=width)

    def loss_fn(model, batch: PairBatch):
        sums, counts = batch.logps(model, session.direct_head)
        chosen, rejected = sums.chunk(2)
        chosen_mean, rejected_mean = (sums / counts).chunk(2)
        loss, chosen_reward, rejected_reward = simpo_loss(
            chosen_mean, rejected_mean, method.beta, method.gamma
        )
        return loss.sum(), reward_metrics(chosen_reward, rejected_reward, chosen, rejected)

    evaluate = None
    if data.validation:
        validation = PairPlan(data.validation, size, pad, seed)
        evaluate = pair_evaluator(session.model, validation, loss_fn, session.accelerator)
    return session.fit(plan, loss_fn, evaluate, data.summary())
