"""Log-probabilities of target tokens: the one place every method's forward pass goes through.

The LM head of a small model is a large share of its compute and memory (SmolLM2-135M:
576 x 49152, ~20% of the forward FLOPs; batch 8 x 256 of float32 logits is 400 MB).
Projecting only the trained positions skips that work for prompt and padding tokens.

Per-token values are flat tensors in the row-major order of the batch's target
positions (`batch.targets != IGNORE`); log-softmax is taken in float32 whatever the
model computes in, because over a 50k vocabulary bf16 loses too much.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tuneforge.data import IGNORE, Batch


def direct_head_supported(model, distributed: bool) -> bool:
    """The shortcut calls the decoder and head directly. That bypasses wrappers whose
    forward does real work: DDP (gradient sync hooks) and PEFT prompt learning
    (virtual tokens are injected in PeftModel.forward)."""
    if distributed:
        return False
    config = getattr(model, "peft_config", {}).get("default")
    return not (config is not None and config.is_prompt_learning)


@dataclass
class TrainedOutputs:
    logits: torch.Tensor  # [n, vocab] at the n positions that have a target
    targets: torch.Tensor  # [n]
    hidden: torch.Tensor | None  # [n, hidden] last hidden state there, when asked for


def trained_outputs(model, batch: Batch, direct_head: bool, hidden: bool = False) -> TrainedOutputs:
    """Logits (and with `hidden` the last hidden states) at the batch's target positions."""
    selected = batch.targets != IGNORE
    inputs = dict(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
    )
    if direct_head:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        states = base.get_decoder()(**inputs).last_hidden_state[selected]  # [n, hidden]
        logits = base.get_output_embeddings()(states)
        return TrainedOutputs(logits, batch.targets[selected], states if hidden else None)
    out = model(**inputs, output_hidden_states=hidden)
    # Prompt tuning prepends its virtual tokens to the sequence; drop their positions.
    width = batch.input_ids.shape[1]
    logits = out.logits[:, -width:][selected]  # [batch, virtual + seq, vocab] -> [n, vocab]
    states = out.hidden_states[-1][:, -width:][selected] if hidden else None
    return TrainedOutputs(logits, batch.targets[selected], states)


def trained_logits(model, batch: Batch, direct_head: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [n, vocab], targets [n]) for the n positions of the batch that have targets."""
    out = trained_outputs(model, batch, direct_head)
    return out.logits, out.targets


def target_logps(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """[n] log-probability of each target under its row of logits, in float32."""
    return -torch.nn.functional.cross_entropy(logits.float(), targets, reduction="none")


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """[n] entropy of each position's next-token distribution (a metric: no gradient)."""
    with torch.no_grad():
        logps = torch.log_softmax(logits.float(), dim=-1)
        return -(logps.exp() * logps).sum(-1)


def token_logps(
    model, batch: Batch, direct_head: bool, with_entropy: bool = False
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(log-probability of each target token [tokens], and its entropy when asked)."""
    logits, targets = trained_logits(model, batch, direct_head)
    return target_logps(logits, targets), entropy(logits) if with_entropy else None


def sequence_logps(
    model, batch: Batch, direct_head: bool, segments: torch.Tensor | None = None,
    n_sequences: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(summed log-probability of each sequence's target tokens, their count), in
    float32; a sequence is a row, or for packed rows what `segments` says each target
    token belongs to."""
    logps = token_logps(model, batch, direct_head)[0]
    if segments is None:
        rows, n_rows = (batch.targets != IGNORE).nonzero()[:, 0], batch.input_ids.shape[0]
    else:
        rows, n_rows = segments.to(logps.device), n_sequences or int(segments.max()) + 1
    sums = torch.zeros(n_rows, device=logps.device).index_add(0, rows, logps)
    counts = torch.zeros(n_rows, device=logps.device).index_add(0, rows, torch.ones_like(logps))
    return sums, counts
