"""Load a base model with an optional trained adapter, and generate chat replies."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

from tuneforge.config import ModelConfig
from tuneforge.log import info
from tuneforge.models.loading import load_model, load_tokenizer
from tuneforge.run_dir import base_model_of, resolve_adapter_dir


def load_for_inference(model: str | None, adapter: str | Path | None = None, log=info):
    """(model, tokenizer) in eval mode. `adapter` is a run directory, an adapter folder
    or a full fine-tuned model folder; `model` defaults to the one the run started from."""
    from tuneforge.models.registry import DEFAULT_MODEL

    if adapter is not None:
        folder, kind = resolve_adapter_dir(adapter)
        if kind == "model":
            model, adapter = str(folder), None
        else:
            model = model or base_model_of(adapter) or DEFAULT_MODEL
    model = model or DEFAULT_MODEL
    tokenizer = load_tokenizer(model, log)
    base = load_model(ModelConfig(name_or_path=model), progress=log)
    if adapter is not None:
        from peft import PeftModel

        base = PeftModel.from_pretrained(base, str(folder))
        if not base.peft_config["default"].is_prompt_learning:
            # Folding the adapter into the weights makes generation as fast as the base.
            base = base.merge_and_unload()
    base.eval()
    return base, tokenizer


@torch.no_grad()
def generate_replies(
    model,
    tokenizer,
    conversations: Sequence[list[dict]],
    max_new_tokens: int = 256,
    temperature: float = 0.0,
    batch_size: int = 16,
) -> list[str]:
    """The assistant's reply to each conversation (greedy when temperature is 0)."""
    prompts = [
        tokenizer.apply_chat_template(c, tokenize=False, add_generation_prompt=True)
        for c in conversations
    ]
    device = next(model.parameters()).device
    sampling = (
        {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
    )
    replies = []
    for start in range(0, len(prompts), batch_size):
        batch = tokenizer(
            prompts[start : start + batch_size],
            return_tensors="pt",
            padding=True,
            # Decoder-only generation needs every prompt to end at the same column.
            padding_side="left",
            add_special_tokens=False,
        ).to(device)
        output = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **sampling,
        )
        new_tokens = output[:, batch["input_ids"].shape[1] :]
        replies += tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
    return [r.strip() for r in replies]
