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
    """The running requests of one loaded model, their shared KV cache and mask."""

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


def join(batch: Batch, s: Any, cache) -> None:
    """Add s's prefilled cache to the batch, left-padding whichever side is shorter."""
    assert batch.mask is not None
    width, new = batch.mask.shape[1], s.length
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
        for old_layer, new_layer in zip(batch.cache.layers, cache.layers, strict=True)
    ]
    # assigned only once every layer is built: a failure leaves the batch as it was
    for layer, (keys, values) in zip(batch.cache.layers, joined, strict=True):
        layer.keys, layer.values = keys, values
    old_mask = torch.nn.functional.pad(batch.mask, (target - width, 0))
    new_mask = torch.nn.functional.pad(torch.ones(1, new, dtype=torch.long), (target - new, 0))
    batch.mask = torch.cat([old_mask, new_mask], 0)
    batch.rows.append(s)


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
