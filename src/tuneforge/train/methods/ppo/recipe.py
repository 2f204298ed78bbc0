"""PPO (RLHF as in InstructGPT): sample completions, score them, and improve the policy
with clipped updates against GAE advantages from a value head on the same model, a
per-token KL penalty to the reference, and several updates per batch of rollouts."""

from __future__ import annotations

from typing import Any

import torch

from tuneforge.config import RunConfig
from tuneforge.data.batching import Batch, collate
from tuneforge.data.prompts import PromptExample
from tuneforge.data.templating import IGNORE
from tuneforge.log import info
from tuneforge.models.logprobs import entropy, target_logps, trained_outputs
from tuneforge.train.methods.ppo.loss import AdaptiveKL, gae, ppo_loss, token_rewards, whiten
from tuneforge.train.online import start_online_training
from tuneforge.train.policy_gradient import k3_kl, per_row_mean, rollout_metrics
from tuneforge.train.rollouts import Rollout, sample

VALUE_HEAD = "value_head"
"""PPO's critic: a linear layer on the last hidden state, registered on the model under
this name, so it trains and checkpoints with the adapter and shares its base; the saved
product is the policy alone."""


def value_head(model) -> torch.nn.Linear:
    return torch.nn.Linear(model.config.hidden_size, 1, device=model.device)


def policy_and_values(model, batch: Batch, direct_head: bool, with_entropy: bool = False):
    """(log-prob of each target token, the value head's estimate at the same positions,
    entropy or None), from one forward pass."""
    out = trained_outputs(model, batch, direct_head, hidden=True)
    assert out.hidden is not None
    values = getattr(model, VALUE_HEAD)(out.hidden).float()[:, 0]
    spread = entropy(out.logits) if with_entropy else None
    return target_logps(out.logits, out.targets), values, spread


def train_ppo(cfg: RunConfig, resume: bool = False, log=info) -> dict[str, Any]:
    method = cfg.method
    assert method.name == "ppo"
    run = start_online_training(cfg, resume, log, auxiliary={VALUE_HEAD: value_head})
    session, rewards, reference = run.session, run.rewards, run.reference
    model, accelerator, direct = session.model, session.accelerator, session.direct_head
    tokenizer = session.tokenizer
    kl_control = AdaptiveKL(method.beta, method.kl_target)

    @torch.no_grad()
    def make_rollout(records: list[PromptExample]) -> Rollout:
        sequences, completions = sample(
            model, accelerator, tokenizer, records, 1, method.max_new_tokens, method.temperature
        )
        scores = torch.tensor(rewards(records, completions))
        batch = collate(sequences, tokenizer.pad_token_id)
        on_device = batch.to(accelerator.device)
        was_training = model.training
        model.eval()
        with session.autocast():  # in the precision training uses
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
        logps, values, spread = policy_and_values(model, rollout.sequences, direct, True)
        terms = ppo_loss(
            logps, values, rollout.old_logps, rollout.extras["values"],
            rollout.extras["returns"], rollout.advantages, rows, n, method.epsilon,
            method.value_clip, method.value_weight,
        )  # fmt: skip
        kl = torch.zeros_like(logps)
        if rollout.ref_logps is not None:
            kl = k3_kl(logps.detach(), rollout.ref_logps)
        metrics = rollout_metrics(
            rollout.rewards, rows, n, kl=kl, entropy=spread, policy_loss=terms.policy,
            value_loss=terms.value, clip_fraction=terms.clipped,
        )  # fmt: skip
        return terms.per_row.sum(), {**metrics, "kl_coef": kl_control.beta * n}

    return run.fit(plan, loss_fn)
