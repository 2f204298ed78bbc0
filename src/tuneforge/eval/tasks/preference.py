"""Preference pairs ranked by the model under evaluation; with a `judge`, the win rate of
its replies over the base's instead (eval/judge/win_rate.py).

A pair is a prompt x with a chosen reply y_c and a rejected one y_r, read and tokenized as
DPO training reads them (data/prompt_fit.py fits long prompts by whole turns; the template
and its mask come from data/templating.py, so only reply tokens count). Per pair:

- a reward model (a scalar head, what `method: reward` trains) scores each sequence, r_c
  and r_r, as training does (the head reads each right-padded row's last token):
      reward_accuracy = 1[r_c > r_r]        reward_margin = r_c - r_r
- a causal LM with summed reply log-probabilities pi_c, pi_r and its reference's ref_c,
  ref_r (the base: the adapter switched off, as DPO's reference is) has the implicit DPO
  reward of Rafailov et al. 2023 (eq. 5), r(x, y) = beta log pi(y | x) / ref(y | x):
      h = (pi_c - ref_c) - (pi_r - ref_r)
      dpo_reward_accuracy = 1[h > 0]        dpo_reward_margin = beta h
  beta > 0 scales both rewards alike, so the accuracy does not depend on it;
- any causal LM, from its own log-probabilities alone, averaged over each reply's tokens
  n_c, n_r:
      preference_accuracy = 1[pi_c / n_c > pi_r / n_r]
  Per token, because a summed log-probability falls with every token: summed, a model
  "prefers" whichever reply is shorter (most preference sets have longer chosen replies),
  whatever it learnt. The per-token mean is SimPO's implicit reward (Meng et al. 2024,
  eq. 4), so this is also the accuracy of reference-free methods (SimPO, ORPO).

Every accuracy counts an exact tie as 0.5 (training's reward_accuracy counts it as 0).
The base has no reference but itself (h = 0 for every pair), and neither has a full
fine-tuned model, whose base this task cannot reach: for those, only preference_accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from tuneforge.data import collate, read_examples
from tuneforge.data.pair_tokens import TokenizedPairExample, tokenize_pairs
from tuneforge.data.prompt_fit import fit_prompts
from tuneforge.data.records import PreferenceExample
from tuneforge.errors import ConfigError, DataError
from tuneforge.eval.task import Metric, TaskScores
from tuneforge.models.logprobs import direct_head_supported, sequence_logps

if TYPE_CHECKING:
    from tuneforge.config.eval import JudgeConfig

Tokenized = TokenizedPairExample
"""A pair as scored (its prompt fitted) and its chosen and rejected sequences."""

DEFAULT_BETA = 0.1  # DPOConfig.beta's default
DEFAULT_MAX_LENGTH = 1024  # DataConfig.max_length's default


def run_preference(
    model,
    tokenizer,
    path: Path,
    *,
    batch_size: int = 8,
    max_length: int = DEFAULT_MAX_LENGTH,
    beta: float = DEFAULT_BETA,
    judge: JudgeConfig | None = None,
    max_new_tokens: int = 256,
) -> TaskScores:
    """Rank the file's pairs (the module docstring's metrics); with `judge`, the win rate
    of the model's replies over the base's."""
    if batch_size < 1:
        raise ConfigError(f"preference task: batch_size must be at least 1, got {batch_size}")
    if judge is not None:
        if is_reward_model(model):
            raise ConfigError(
                "preference task: a reward model writes no replies, so it has no win rate; "
                "name it as judge.reward_model and evaluate a chat model"
            )
        from tuneforge.eval.judge.win_rate import run_win_rate

        return run_win_rate(
            model, tokenizer, path, judge, max_new_tokens=max_new_tokens, batch_size=batch_size
        )
    pairs, dropped = fitted_pairs(read_examples(path, kind="preference"), tokenizer, max_length)
    if not pairs:
        raise DataError(
            str(path), None, None,
            f"no pair keeps a reply token within max_length={max_length}; raise max_length",
        )  # fmt: skip
    if is_reward_model(model):
        chosen, rejected = reward_scores(model, tokenizer, pairs, batch_size)
        metrics = reward_model_metrics(chosen, rejected)
        details: dict[str, list[float]] = {"chosen_score": chosen, "rejected_score": rejected}
    else:
        logps = pair_logps(model, tokenizer, pairs, batch_size, reference=has_base(model))
        metrics = language_model_metrics(logps, beta)
        details = {name: v for name, v in vars(logps).items() if v is not None}
    columns = details | {name: metric.values for name, metric in metrics.items()}
    examples = [
        {"prompt": pair.prompt[-1].content} | {k: v[i] for k, v in columns.items()}
        for i, (pair, _, _) in enumerate(pairs)
    ]
    return TaskScores(metrics, n=len(pairs), examples=examples, dropped=dropped)


# -- the metrics, from per-pair numbers ------------------------------------------------


def beats(a: float, b: float) -> float:
    """1 when a > b, 0 when a < b, 0.5 on a tie."""
    return 1.0 if a > b else 0.0 if a < b else 0.5


def reward_model_metrics(chosen: list[float], rejected: list[float]) -> dict[str, Metric]:
    return {
        "reward_accuracy": Metric([beats(c, r) for c, r in zip(chosen, rejected, strict=True)]),
        "reward_margin": Metric([c - r for c, r in zip(chosen, rejected, strict=True)]),
    }


@dataclass
class PairLogps:
    """Per pair: summed reply log-probabilities, reply token counts, and the reference's
    sums (None without a reference). The field names are the samples' column names."""

    chosen_logp: list[float]
    rejected_logp: list[float]
    chosen_tokens: list[float]
    rejected_tokens: list[float]
    chosen_ref_logp: list[float] | None = None
    rejected_ref_logp: list[float] | None = None


def language_model_metrics(logps: PairLogps, beta: float = DEFAULT_BETA) -> dict[str, Metric]:
    """preference_accuracy always; the dpo_ metrics when there is a reference."""
    chosen, rejected = logps.chosen_logp, logps.rejected_logp
    per_token = [
        beats(c / nc, r / nr)
        for c, r, nc, nr in zip(
            chosen, rejected, logps.chosen_tokens, logps.rejected_tokens, strict=True
        )
    ]
    metrics = {"preference_accuracy": Metric(per_token)}
    if logps.chosen_ref_logp is None or logps.rejected_ref_logp is None:
        return metrics
    h = [
        (c - rc) - (r - rr)
        for c, r, rc, rr in zip(
            chosen, rejected, logps.chosen_ref_logp, logps.rejected_ref_logp, strict=True
        )
    ]
    metrics["dpo_reward_accuracy"] = Metric([beats(x, 0.0) for x in h])
    metrics["dpo_reward_margin"] = Metric([beta * x for x in h])
    return metrics


# -- reading the model -------------------------------------------------------------------


def is_reward_model(model) -> bool:
    """A scalar-head model (transformers' ...ForSequenceClassification with one output),
    as `method: reward` trains and models/reward.py loads."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return type(base).__name__.endswith("ForSequenceClassification") and (
        base.config.num_labels == 1
    )


def has_base(model) -> bool:
    """Whether the model is a PEFT adapter that is switched on, so the base is the same
    model under `disable_adapter()`. The base as ModelSet gives it (the adapters already
    switched off) and a full fine-tuned model have no base to reach."""
    from peft import PeftModel

    return isinstance(model, PeftModel) and model.has_active_enabled_adapter


def fitted_pairs(
    pairs: list[PreferenceExample], tokenizer, max_length: int
) -> tuple[list[Tokenized], int]:
    """(the pairs kept, with their sequences; the number dropped), prepared exactly as DPO
    training prepares them: prompts fitted to their budget, then tokenized (a pair is
    dropped when either reply has no token within max_length)."""
    fitted, _ = fit_prompts(pairs, tokenizer, max_length, None, "template")
    kept, _ = tokenize_pairs(fitted, tokenizer, max_length)
    return kept, len(pairs) - len(kept)


def _batches(pairs: list[Tokenized], batch_size: int, pad: int):
    """(pair indices, a Batch of their chosen rows then their rejected rows), longest
    pairs first so each batch holds similar lengths."""
    longest = lambda i: -max(len(pairs[i][1].input_ids), len(pairs[i][2].input_ids))  # noqa: E731
    order = sorted(range(len(pairs)), key=longest)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        rows = [pairs[i][1] for i in chunk] + [pairs[i][2] for i in chunk]
        yield chunk, collate(rows, pad)


@torch.no_grad()
def pair_logps(model, tokenizer, pairs, batch_size: int, reference: bool) -> PairLogps:
    """The pairs' log-probabilities under the model, and with `reference` under the base
    (the same model inside `disable_adapter()`)."""
    n = len(pairs)
    columns: list[list[float]] = [[0.0] * n for _ in range(6 if reference else 4)]
    direct = direct_head_supported(model, distributed=False)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for chunk, batch in _batches(pairs, batch_size, pad):
        batch = batch.to(device)
        sums, counts = sequence_logps(model, batch, direct)  # [2B] each, chosen rows first
        found = [*sums.chunk(2), *counts.chunk(2)]
        if reference:
            with model.disable_adapter():
                found += sequence_logps(model, batch, direct)[0].chunk(2)
        for values, column in zip(found, columns, strict=True):
            for i, value in zip(chunk, values.tolist(), strict=True):
                column[i] = float(value)
    return PairLogps(*columns)


@torch.no_grad()
def reward_scores(model, tokenizer, pairs, batch_size: int) -> tuple[list[float], list[float]]:
    """(chosen scores, rejected scores), as the reward recipe scores its validation pairs."""
    chosen, rejected = [0.0] * len(pairs), [0.0] * len(pairs)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for chunk, batch in _batches(pairs, batch_size, pad):
        batch = batch.to(device)
        # The head reads the last non-padding token of each (right-padded) row.
        scores = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
        good, bad = scores[:, 0].float().chunk(2)
        for i, c, r in zip(chunk, good.tolist(), bad.tolist(), strict=True):
            chosen[i], rejected[i] = c, r
    return chosen, rejected
