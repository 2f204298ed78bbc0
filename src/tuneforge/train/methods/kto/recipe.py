"""KTO: unpaired desirable/undesirable replies against a KL reference point."""

from __future__ import annotations

from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.log import info
from tuneforge.models import load_tokenizer
from tuneforge.train.methods.kto.data import load_feedback_data
from tuneforge.train.methods.kto.loss import kto_loss
from tuneforge.train.pairs import PairBatch, PairPlan, pair_evaluator, sequence_logps
from tuneforge.train.reference import CACHE, Reference, precomputed
from tuneforge.train.session import open_session


def train_kto(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "kto"
    tokenizer = load_tokenizer(cfg.model.name_or_path, log)
    data = load_feedback_data(cfg, tokenizer)
    session = open_session(cfg, tokenizer, resume, log)
    pad, size, seed = tokenizer.pad_token_id, cfg.train.batch_size, cfg.train.seed
    plan = PairPlan(data.train, size, pad, seed, cfg.data.group_by_length)
    validation = PairPlan(data.validation, size, pad, seed) if data.validation else None
    reference = Reference(
        session.model, session.accelerator, session.direct_head, session.uses_adapter
    )
    if method.precompute_reference:
        log("computing reference log-probabilities once (cached in the run directory)")
        name = cfg.model.name_or_path
        plan.reference = precomputed(reference, plan, session.run.root / CACHE, name)
        if validation:
            validation.reference = precomputed(
                reference, validation, session.run.root / f"eval_{CACHE}", name
            )
        reference.release()

    def loss_fn(model, batch: PairBatch):
        seq, n = batch.sequences, batch.n_pairs
        examples, twins = seq.row_slice(0, n), seq.row_slice(n, 2 * n)
        policy = sequence_logps(model, examples, session.direct_head)[0]
        with torch.no_grad():  # the reference point takes no gradient: keep no graph for it
            policy_twin = sequence_logps(model, twins, session.direct_head)[0]
        if batch.reference is not None:
            ref, ref_twin = batch.reference.unbind(dim=1)
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

    evaluate = None
    if validation:
        evaluate = pair_evaluator(session.model, validation, loss_fn, session.accelerator)
    return session.fit(plan, loss_fn, evaluate, data.summary())
