"""KTO: unpaired desirable/undesirable replies against a KL reference point."""

from __future__ import annotations

from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.models.logprobs import sequence_logps
from tuneforge.train.methods.kto.data import load_feedback_data
from tuneforge.train.methods.kto.loss import kto_loss
from tuneforge.train.pair_batches import PairBatch
from tuneforge.train.paired import start_pair_training
from tuneforge.train.reference import Reference, precompute_for_run


def train_kto(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "kto"
    # Examples and their KL twins are split apart in the forward pass: never packed.
    run = start_pair_training(cfg, resume, log, load=load_feedback_data, packable=False)
    session, plan, validation = run.session, run.plan, run.validation
    reference = Reference(
            session.model, session.accelerator, session.direct_head, session.uses_adapter,
            session.autocast,
        )  # fmt: skip
    if method.precompute_reference:
        log("computing reference log-probabilities once (cached in the run directory)")
        precompute_for_run(reference, session, plan, validation)

    def loss_fn(model, batch: PairBatch):
        seq, n = batch.sequences, batch.n_pairs
        examples, twins = seq.row_slice(0, n), seq.row_slice(n, 2 * n)
        policy = sequence_logps(model, examples, session.direct_head)[0]
        with torch.no_grad():  # the reference point takes no gradient: keep no graph for it
            policy_twin = sequence_logps(model, twins, session.direct_head)[0]
        if (cached := batch.precomputed_reference) is not None:
            ref, ref_twin = cached.unbind(dim=1)
        else:
            ref, ref_twin = reference.logps(seq).chunk(2)
        kl = (policy_twin - ref_twin).mean()
        assert batch.desirable is not None
        loss, reward = kto_loss(
            policy, ref, batch.desirable, kl, method.beta,
            method.desirable_weight, method.undesirable_weight,
        )  # fmt: skip
        good, bad = batch.desirable, ~batch.desirable
        z0 = kl.detach().clamp(min=0)
        right = torch.where(good, policy - ref > z0, policy - ref < z0)
        return loss.sum(), {
            "chosen_reward": (float(reward[good].sum()), float(good.sum())),
            "rejected_reward": (float(reward[bad].sum()), float(bad.sum())),
            "chosen_logp": (float(policy[good].detach().sum()), float(good.sum())),
            "rejected_logp": (float(policy[bad].detach().sum()), float(bad.sum())),
            "reward_accuracy": float(right.sum()),
            "kl": float(kl) * n,
        }

    return session.fit(plan, loss_fn, run.evaluator(loss_fn), run.data.summary())
