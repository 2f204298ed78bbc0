"""A tiny random-initialised Llama with the real SmolLM2 tokenizer and chat template.

Tests and dry runs use it: it exercises every code path of the real model (ChatML
template, tied embeddings, GQA) and trains in milliseconds per step.
"""

from __future__ import annotations

from pathlib import Path

import torch

from tuneforge.models.registry import smollm2_tokenizer_dir

TINY_SHAPE = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=2,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    tie_word_embeddings=True,
)


def save_tiny_model(target: Path, seed: int = 0) -> None:
    """Write a tiny Llama (random weights from `seed`) plus the SmolLM2 tokenizer to target."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer_dir())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **TINY_SHAPE,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
