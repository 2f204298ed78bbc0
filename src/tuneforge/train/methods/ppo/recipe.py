"""PPO (RLHF as in InstructGPT): sample completions, score them, and improve the policy
with clipped updates against GAE advantages from a value head on the same model, a
per-token KL penalty to the reference, and several updates per batch of rollouts."""

from __future__ import annotations

from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.data.batching import Batch, collate
from tuneforge.data.templating import IGNORE
from tuneforge.log import info
from tuneforge.train.methods.ppo.loss import (
    AdaptiveKL,
    clipped_value_loss,
    gae,
    token_rewards,
    whiten,
)
from tuneforge.train.online import start_online_training
from tuneforge.train.policy_gradient import (
    clipped_policy_loss,
    k3_kl,
    per_row_mean,
    rollout_metrics,
)
from tuneforge.train.rollouts import PromptRecord, Rollout, sample


def policy_and_values(model, batch: Batch, direct_head: bool, entropy: bool = False):
    """(log-prob of each target token, the value head's estimate at the same positions,
    entropy or None), from one forward pass; with LoRA, policy and critic share the base."""
    selected = batch.targets != IGNORE
    inputs = dict(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    if direct_head:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        hidden = base.get_decoder()(**inputs).last_hidden_state[selected]
        logits = base.get_output_embeddings()(hidden)
    else:
        out = model(**inputs, output_hidden_states=True)
        hidden = out.hidden_states[-1][selected]
        logits = out.logits[:, -batch.input_ids.shape[1] :][selected]
    logps = torch.log_softmax(logits.float(), dim=-1)
    chosen = logps.gather(1, batch.targets[selected][:, None])[:, 0]
    values = model.value_head(hidden).float()[:, 0]
    spread = None
    if entropy:
        with torch.no_grad():
            spread = -(logps.exp() * logps).sum(-1)
    return chosen, values, spread


def train_ppo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "ppo"
    run = start_online_training(cfg, resume, log, value_head=True)
    session, rewards, reference = run.session, run.rewards, run.reference
    model, accelerator, direct = session.model, session.accelerator, session.direct_head
    tokenizer = session.tokenizer
    kl_control = AdaptiveKL(method.beta, method.kl_target)

    @torch.no_grad()
    def make_rollout(records: list[PromptRecord]) -> Rollout:
        sequences, completions = sample(
            model, accelerator, tokenizer, records, 1, method.max_new_tokens, method.temperature
        )
        scores = torch.tensor(rewards(records, completions))
        batch = collate(sequences, tokenizer.pad_token_id)
        on_device = batch.to(accelerator.device)
        was_training = model.training
        model.eval()
        old_logps, old_values, _ = policy_and_values(model, on_device, direct)
        model.train(was_training)
        ref = reference.token_logps(on_device) if reference is not None else None
        rows = (on_device.targets != IGNORE).nonzero()[:, 0]
        shaped = whiten(scores) if method.whiten_rewards else scores
        per_token = token_rewards(shaped.to(rows.device), old_logps, ref, rows, kl_control.beta)
        advantages, returns = gae(per_token, old_values, rows, method.gamma, method.lam)
        if ref is not None:
            kl = float(per_row_mean(old_logps - ref, rows, len(records)).sum()) / len(records)
            kl_control.update(kl, len(records))
        return Rollout(
            batch, scores, whiten(advantages).cpu(), old_logps.cpu(),
            None if ref is None else ref.cpu(),
            {"values": old_values.cpu(), "returns": returns.cpu()},
        )  # fmt: skip

    plan = run.plan(make_rollout, carry=kl_control)

    def loss_fn(model, rollout: Rollout):
        rows, n = rollout.token_rows(), rollout.rows
        logps, values, entropy = policy_and_values(model, rollout.sequences, direct, True)
        policy, clipped = clipped_policy_loss(
            logps, rollout.old_logps, rollout.advantages, method.epsilon
        )
        value = clipped_value_loss(
            values, rollout.extras["values"], rollout.extras["returns"], method.value_clip
        )
        loss = per_row_mean(policy + method.value_weight * value, rows, n).sum()
        kl = torch.zeros_like(logps)
        if rollout.ref_logps is not None:
            kl = k3_kl(logps.detach(), rollout.ref_logps)
        metrics = rollout_metrics(
            rollout.rewards, rows, n, kl=kl, entropy=entropy, policy_loss=policy,
            value_loss=value, clip_fraction=clipped,
        )  # fmt: skip
        return loss, {**metrics, "kl_coef": kl_control.beta * n}

    return run.fit(plan, loss_fn)
