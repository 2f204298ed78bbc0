"""The running requests of one model as one left-padded KV cache: join, step, shrink.

Rows are left-padded so every row's newest token sits in the last column; the attention
mask hides the padding and the caller passes explicit position ids, so a row's arithmetic
does not depend on its neighbours beyond float rounding.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import torch


@dataclass
class Batch:
    """Requests of one loaded model, their shared KV cache and mask: the running batch,
    or the requests prefilled together in one step before they join it."""

    rows: list[Any] = field(default_factory=list)  # hf.Sequence; rows[i] is cache row i
    cache: Any = None
    mask: torch.Tensor | None = None


def kv_cache(out):
    """The KV cache of a forward pass: transformers 5.24 renamed `past_key_values`."""
    return out["cache"] if "cache" in out else out["past_key_values"]


@lru_cache(maxsize=1)
def cache_argument() -> str:
    from transformers import LlamaForCausalLM

    return (
        "cache"
        if "cache" in inspect.signature(LlamaForCausalLM.forward).parameters
        else ("past_key_values")
    )


def left_padded(prompts: list[list[int]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """Input ids, attention mask and position ids of prompts prefilled in one pass:
    shorter prompts are padded on the left, so each row's last token is its newest."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros(len(prompts), width, dtype=torch.long)
    for i, prompt in enumerate(prompts):
        ids[i, width - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
        mask[i, width - len(prompt) :] = 1
    positions = (mask.cumsum(1) - 1).clamp(min=0)  # a row's first real token is position 0
    return ids, mask, positions


def join(batch: Batch, group: Batch) -> None:
    """Add the rows of group (prefilled together) to batch, left-padding whichever side is
    shorter: one copy of the running cache per step however many requests arrived."""
    if not group.rows:
        return
    if not batch.rows:
        batch.rows, batch.cache, batch.mask = list(group.rows), group.cache, group.mask
        return
    assert batch.mask is not None and group.mask is not None
    width, new = batch.mask.shape[1], group.mask.shape[1]
    target = max(width, new)
    joined = [
        [
            torch.cat(
                [
                    torch.nn.functional.pad(getattr(old_layer, name), (0, 0, target - width, 0)),
                    torch.nn.functional.pad(getattr(new_layer, name), (0, 0, target - new, 0)),
                ]
            )
            for name in ("keys", "values")
        ]
        for old_layer, new_layer in zip(batch.cache.layers, group.cache.layers, strict=True)
    ]
    # assigned only once every layer is built: a failure leaves the batch as it was
    for layer, (keys, values) in zip(batch.cache.layers, joined, strict=True):
        layer.keys, layer.values = keys, values
    old_mask = torch.nn.functional.pad(batch.mask, (target - width, 0))
    new_mask = torch.nn.functional.pad(group.mask, (target - new, 0))
    batch.mask = torch.cat([old_mask, new_mask], 0)
    batch.rows.extend(group.rows)


def shrink(batch: Batch, keep: list[int]) -> None:
    """Keep only the rows at `keep`, and drop columns that are padding in every row."""
    batch.rows = [batch.rows[i] for i in keep]
    if not batch.rows:
        batch.cache, batch.mask = None, None
        return
    assert batch.mask is not None
    index = torch.tensor(keep)
    batch.mask = batch.mask[index]
    used = batch.mask.any(0).nonzero()
    start = int(used[0]) if len(used) else 0
    batch.mask = batch.mask[:, start:]
    for layer in batch.cache.layers:
        layer.keys = layer.keys[index.to(layer.keys.device), :, start:]
        layer.values = layer.values[index.to(layer.values.device), :, start:]
