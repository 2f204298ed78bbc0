"""DPO and its variants (IPO, cDPO, rDPO, hinge, reference-free, RPO), on the shared loop."""

from __future__ import annotations

import time
from typing import Any

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.train.methods.dpo.loss import PairLogps, dpo_loss
from tuneforge.train.pair_batches import PairBatch
from tuneforge.train.paired import reward_metrics, start_pair_training
from tuneforge.train.reference import Reference, precompute_for_run


def train_dpo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "dpo"
    run = start_pair_training(cfg, resume, log)
    session, plan, validation = run.session, run.plan, run.validation
    reference, reference_seconds = None, 0.0
    if method.loss != "reference_free":
        reference = Reference(
            session.model, session.accelerator, session.direct_head, session.uses_adapter,
            session.autocast,
        )  # fmt: skip
        if method.precompute_reference:
            log("computing reference log-probabilities once (cached in the run directory)")
            started = time.perf_counter()
            precompute_for_run(reference, session, plan, validation)
            reference_seconds = time.perf_counter() - started

    def loss_fn(model, batch: PairBatch):
        sums, counts = batch.logps(model, session.direct_head)
        chosen, rejected = sums.chunk(2)
        chosen_tokens, rejected_tokens = counts.chunk(2)
        policy = PairLogps(chosen, rejected, chosen_tokens, rejected_tokens)
        ref = None
        if reference is not None:
            if (cached := batch.precomputed_reference) is not None:
                ref_chosen, ref_rejected = cached.unbind(dim=1)
            else:
                sums = reference.logps(batch.sequences, batch.segments, 2 * batch.n_pairs)
                ref_chosen, ref_rejected = sums.chunk(2)
            ref = PairLogps(ref_chosen, ref_rejected, chosen_tokens, rejected_tokens)
        per_pair, chosen_reward, rejected_reward = dpo_loss(
            policy, ref, method.beta, method.loss, method.label_smoothing
        )
        loss = per_pair.sum()
        if method.rpo_alpha:  # RPO: NLL of the chosen reply, per token
            loss = loss + method.rpo_alpha * (-chosen / chosen_tokens).sum()
        return loss, reward_metrics(chosen_reward, rejected_reward, chosen, rejected)

    summary = {**run.data.summary(), "reference_seconds": round(reference_seconds, 3)}
    return session.fit(plan, loss_fn, run.evaluator(loss_fn), summary)
