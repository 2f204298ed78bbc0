"""GRPO: sample a group of completions per prompt, reward them, and push up the ones
better than their group's mean, with a KL leash to the reference model."""

from __future__ import annotations

from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.data.batching import collate
from tuneforge.data.prompts import PromptExample
from tuneforge.log import info
from tuneforge.models.logprobs import token_logps
from tuneforge.train.methods.grpo.loss import group_advantages, grpo_loss
from tuneforge.train.online import start_online_training
from tuneforge.train.policy_gradient import rollout_metrics
from tuneforge.train.rollouts import Rollout, sample


def train_grpo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "grpo"
    run = start_online_training(cfg, resume, log)
    session, rewards, reference = run.session, run.rewards, run.reference
    model, accelerator, direct = session.model, session.accelerator, session.direct_head
    tokenizer = session.tokenizer
    group = method.num_generations

    def make_rollout(records: list[PromptExample]) -> Rollout:
        sequences, completions = sample(
            model, accelerator, tokenizer, records, group, method.max_new_tokens,
            method.temperature,
        )  # fmt: skip
        scores = torch.tensor(rewards([r for r in records for _ in range(group)], completions))
        batch = collate(sequences, tokenizer.pad_token_id)
        on_device = batch.to(accelerator.device)
        old = ref = None
        with torch.no_grad(), session.autocast():  # in the precision training uses
            if method.updates_per_rollout > 1:  # later updates compare with the sampler
                old = token_logps(model, on_device, direct)[0].cpu()
            if reference is not None:
                ref = reference.token_logps(on_device).cpu()
        advantages = group_advantages(scores, group, method.scale_rewards)
        return Rollout(batch, scores, advantages, old, ref)

    plan = run.plan(make_rollout)

    def loss_fn(model, rollout: Rollout):
        rows, n = rollout.token_rows(), rollout.rows
        logps, spread = token_logps(model, rollout.sequences, direct, with_entropy=True)
        terms = grpo_loss(
            logps, rollout.old_logps, rollout.ref_logps, rollout.advantages, rows, n,
            method.epsilon, method.beta,
        )  # fmt: skip
        return terms.per_row.sum(), rollout_metrics(
            rollout.rewards, rows, n, kl=terms.kl, entropy=spread, policy_loss=terms.policy,
            clip_fraction=terms.clipped,
        )  # fmt: skip

    return run.fit(plan, loss_fn)
