"""GRPO: sample a group of completions per prompt, reward them, and push up the ones
better than their group's mean, with a KL leash to the reference model."""

from __future__ import annotations

from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.data.batching import collate
from tuneforge.log import info
from tuneforge.train.methods.grpo.loss import (
    clipped_policy_loss,
    group_advantages,
    k3_kl,
    per_row_mean,
)
from tuneforge.train.online import start_online_training
from tuneforge.train.policy_gradient import rollout_metrics
from tuneforge.train.rollouts import PromptRecord, Rollout, sample, token_logps


def train_grpo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "grpo"
    run = start_online_training(cfg, resume, log)
    session, rewards, reference = run.session, run.rewards, run.reference
    model, accelerator, direct = session.model, session.accelerator, session.direct_head
    tokenizer = session.tokenizer
    group = method.num_generations

    def make_rollout(records: list[PromptRecord]) -> Rollout:
        sequences, completions = sample(
            model, accelerator, tokenizer, records, group, method.max_new_tokens,
            method.temperature,
        )  # fmt: skip
        scores = torch.tensor(rewards([r for r in records for _ in range(group)], completions))
        batch = collate(sequences, tokenizer.pad_token_id)
        on_device = batch.to(accelerator.device)
        old = ref = None
        with torch.no_grad():
            if method.updates_per_rollout > 1:  # later updates compare with the sampler
                old = token_logps(model, on_device, direct)[0].cpu()
            if reference is not None:
                ref = reference.token_logps(on_device).cpu()
        advantages = group_advantages(scores, group, method.scale_rewards)
        return Rollout(batch, scores, advantages, old, ref)

    plan = run.plan(make_rollout)

    def loss_fn(model, rollout: Rollout):
        rows, n = rollout.token_rows(), rollout.rows
        logps, entropy = token_logps(model, rollout.sequences, direct, entropy=True)
        # One update per rollout: the sampler is this very policy, so the ratio is 1 and
        # its gradient is the plain policy gradient.
        old = rollout.old_logps if rollout.old_logps is not None else logps.detach()
        policy, clipped = clipped_policy_loss(logps, old, rollout.advantages[rows], method.epsilon)
        per_token = policy
        kl = torch.zeros_like(logps)
        if rollout.ref_logps is not None:
            kl = k3_kl(logps, rollout.ref_logps)
            per_token = policy + method.beta * kl
        loss = per_row_mean(per_token, rows, n).sum()
        return loss, rollout_metrics(
            rollout.rewards, rows, n, kl=kl, entropy=entropy, policy_loss=policy,
            clip_fraction=clipped,
        )  # fmt: skip

    return run.fit(plan, loss_fn)
