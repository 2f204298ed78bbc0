"""Forward passes that return logits only where a loss is taken.

The LM head of a small model is a large share of its compute and memory (SmolLM2-135M:
576 x 49152, ~20% of the forward FLOPs; batch 8 x 256 of float32 logits is 400 MB).
Projecting only the trained positions skips that work for prompt and padding tokens.
"""

from __future__ import annotations

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


def trained_logits(model, batch: Batch, direct_head: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits [n, vocab], targets [n]) for the n positions of the batch that have targets."""
    selected = batch.targets != IGNORE
    inputs = dict(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        use_cache=False,
    )
    if direct_head:
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        hidden = base.get_decoder()(**inputs).last_hidden_state  # [batch, seq, hidden]
        return base.get_output_embeddings()(hidden[selected]), batch.targets[selected]
    logits = model(**inputs).logits  # [batch, virtual + seq, vocab]
    # Prompt tuning prepends its virtual tokens to the sequence; drop their positions.
    logits = logits[:, logits.shape[1] - batch.input_ids.shape[1] :]
    return logits[selected], batch.targets[selected]
