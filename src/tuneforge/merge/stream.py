"""The merge loop: one tensor name at a time, each source's tensor read from its file,
merged, cast, and kept only until its shard is written.

Peak memory is the output's current shard (at most SHARD_BYTES, or the whole model when it
is smaller) plus one tensor per source, not N models. DARE's random drops come from a
generator seeded by (seed, tensor name), so a tensor's merge does not depend on the order
tensors are visited in, and the same seed gives the same model.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from tuneforge.merge.methods import MergeMethod
from tuneforge.merge.sources import Source, TensorReader, names_in_order

SHARD_BYTES = 2 * 1024**3
WEIGHTS = "model.safetensors"


def value_for(value: Any, tensor: str) -> Any:
    """A parameter's value for one tensor: the value itself, or from a list of
    {filter, value} entries the first whose filter is part of the tensor's name (an entry
    without a filter matches every name)."""
    if not isinstance(value, list):
        return value
    for entry in value:
        if "filter" not in entry or entry["filter"] in tensor:
            return entry["value"]
    raise ValueError(f"no entry of {value} applies to {tensor}: end the list with a default")


def merge_weights(
    method: MergeMethod,
    base: Source | None,
    models: Sequence[Source],
    per_model: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    output: Path,
    dtype: torch.dtype,
    seed: int,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the merged weights into `output` (safetensors shards and, for more than one,
    their index); returns how many tensors were merged."""
    from safetensors.torch import save_file

    layout = base or models[0]
    names = list(names_in_order(layout))
    shard: dict[str, torch.Tensor] = {}
    shard_bytes = 0
    shards: list[tuple[Path, list[str]]] = []
    with TensorReader() as reader:
        for done, name in enumerate(names, 1):
            tensors = [reader.get(model, name) for model in models]
            base_tensor = reader.get(base, name) if base is not None else None
            if not tensors[0].is_floating_point():  # integer buffers are copied, not mixed
                merged = (base_tensor if base_tensor is not None else tensors[0]).clone()
            else:
                generator = torch.Generator().manual_seed(_tensor_seed(seed, name))
                merged = method.merge(
                    base_tensor, tensors,
                    [{k: value_for(v, name) for k, v in p.items()} for p in per_model],
                    {k: value_for(v, name) for k, v in parameters.items()},
                    generator,
                ).to(dtype)  # fmt: skip
            shard[name] = merged.contiguous()
            shard_bytes += merged.numel() * merged.element_size()
            if shard_bytes >= SHARD_BYTES:
                shards.append(_write_shard(shard, output, len(shards), save_file))
                shard, shard_bytes = {}, 0
            if progress:
                progress(done, len(names))
    if shard or not shards:
        shards.append(_write_shard(shard, output, len(shards), save_file))
    _name_shards(shards, output)
    return len(names)


def _tensor_seed(seed: int, name: str) -> int:
    return (seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63)


def _write_shard(
    shard: dict[str, torch.Tensor], output: Path, index: int, save_file
) -> tuple[Path, list[str]]:
    path = output / f"shard-{index:05d}.safetensors"
    save_file(shard, str(path), metadata={"format": "pt"})
    return path, list(shard)


def _name_shards(shards: list[tuple[Path, list[str]]], output: Path) -> None:
    """One shard is model.safetensors; several are numbered as transformers numbers them,
    with model.safetensors.index.json mapping each tensor to its file."""
    if len(shards) == 1:
        shards[0][0].rename(output / WEIGHTS)
        return
    weight_map: dict[str, str] = {}
    total = len(shards)
    for i, (path, names) in enumerate(shards, 1):
        final = output / f"model-{i:05d}-of-{total:05d}.safetensors"
        path.rename(final)
        weight_map |= dict.fromkeys(names, final.name)
    index = {"metadata": {}, "weight_map": weight_map}
    (output / f"{WEIGHTS}.index.json").write_text(json.dumps(index, indent=2) + "\n")
