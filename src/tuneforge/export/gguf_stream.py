"""Writing a GGUF file one tensor at a time.

`gguf.GGUFWriter.add_tensor` keeps every tensor in memory until the file is written (or
spools them to a temporary file): a whole model. Its lower-level API does not: tensor
infos (name, shape, type, byte size) are declared first, the header, metadata and tensor
table are written, then `write_tensor_data` takes the tensors in the declared order. So a
plan of shapes comes first and each tensor is read, converted, encoded and written in
turn: memory stays near one tensor (its float32 copy plus its encoded bytes).

Storage types follow llama.cpp's converter: 1-D tensors and norms stay F32 (most of its
kernels read them as F32 only); every other tensor takes the file's type; a row that is
not a whole number of Q8_0 blocks (32 values) falls back to F16.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from tuneforge.export.llama_layout import require_gguf


@dataclass(frozen=True)
class PlannedTensor:
    name: str
    """The GGUF tensor name (`blk.0.attn_q.weight`, `blk.0.attn_q.weight.lora_a`)."""
    shape: tuple[int, ...]
    """Numpy order (rows, columns); GGUF stores the reverse."""
    qtype: object
    """A gguf.GGMLQuantizationType."""
    load: Callable[[], torch.Tensor]
    """Reads the tensor, rows already in llama.cpp's order."""


def storage_type(name: str, shape: tuple[int, ...], file_qtype):
    """The GGML type a tensor is stored as in a file of type `file_qtype`."""
    gguf = require_gguf()
    types = gguf.GGMLQuantizationType
    if len(shape) <= 1 or name.endswith("_norm.weight"):
        return types.F32
    block_size = gguf.GGML_QUANT_SIZES[file_qtype][0]
    if shape[-1] % block_size != 0:
        return types.F16
    return file_qtype


def _encoded_layout(shape: tuple[int, ...], qtype) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, byte count) of the array `gguf.quants.quantize` returns."""
    gguf = require_gguf()
    types = gguf.GGMLQuantizationType
    if qtype in (types.F32, types.F16):
        dtype = np.dtype(np.float32 if qtype == types.F32 else np.float16)
        return shape, dtype, int(np.prod(shape)) * dtype.itemsize
    byte_shape = gguf.quant_shape_to_byte_shape(shape, qtype)
    return byte_shape, np.dtype(np.uint8), int(np.prod(byte_shape))


def encode(tensor: torch.Tensor, qtype) -> np.ndarray:
    gguf = require_gguf()
    array = tensor.detach().to(torch.float32).contiguous().cpu().numpy()
    return gguf.quants.quantize(array, qtype)


def write_streamed(writer, plan: Iterable[PlannedTensor], output: Path) -> Path:
    """Declare every planned tensor, then write them one by one. The file appears at
    `output` only when complete (written as `<output>.partial`, then renamed)."""
    plan = list(plan)
    for tensor in plan:
        shape, dtype, nbytes = _encoded_layout(tensor.shape, tensor.qtype)
        raw = tensor.qtype if dtype == np.uint8 else None
        writer.add_tensor_info(tensor.name, shape, dtype, nbytes, raw_dtype=raw)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        writer.write_header_to_file(path=partial)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for tensor in plan:
            data = encode(tensor.load(), tensor.qtype)
            expected = _encoded_layout(tensor.shape, tensor.qtype)[0]
            if tuple(data.shape) != tuple(expected):
                raise ValueError(f"{tensor.name}: encoded as {data.shape}, planned {expected}")
            writer.write_tensor_data(data)
        writer.close()
        os.replace(partial, output)
    finally:
        writer.close()
        partial.unlink(missing_ok=True)
    return output
