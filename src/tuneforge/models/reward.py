"""Load a trained reward model and score conversations with it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tuneforge.config import ModelConfig
from tuneforge.log import info
from tuneforge.models.loading import load_model, load_tokenizer
from tuneforge.run_dir import base_model_of, resolve_adapter_dir


def load_reward_model(run: str | Path, log=info):
    """(model, tokenizer) of a `method: reward` run (its directory, adapter or model
    folder), in eval mode with any adapter folded into the weights."""
    folder, kind = resolve_adapter_dir(run)
    base_name = str(folder) if kind == "model" else base_model_of(run)
    if base_name is None:
        raise FileNotFoundError(f"{run}: cannot tell which base model the reward model used")
    tokenizer = load_tokenizer(str(folder) if kind == "model" else base_name, log)
    model = load_model(ModelConfig(name_or_path=base_name), progress=log, scalar_head=True)
    if kind == "adapter":
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    model.eval()
    return model, tokenizer


@torch.no_grad()
def score_conversations(
    model, tokenizer, conversations: Sequence[list[dict]], batch_size: int = 8
) -> list[float]:
    """The reward model's score of each conversation (ending in the assistant reply)."""
    texts = [tokenizer.apply_chat_template(c, tokenize=False) for c in conversations]
    device = next(model.parameters()).device
    scores: list[float] = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(
            texts[start : start + batch_size], return_tensors="pt", padding=True,
            padding_side="right", add_special_tokens=False,
        ).to(device)  # fmt: skip
        scores += model(**batch).logits[:, 0].float().tolist()
    return scores
