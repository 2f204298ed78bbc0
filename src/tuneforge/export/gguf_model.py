"""A Llama-family HF folder (safetensors, config.json, tokenizer files) as one GGUF file.

The metadata is what llama.cpp's converter writes for the Llama architecture (and what the
embedded SmolLM2 GGUF carries): general.* (type, name, file type, quantization version),
`llama.*` hyperparameters (context and embedding length, block count, feed-forward
length, head counts including KV heads, key/value length, RoPE dimension count and base,
RMS norm epsilon, vocab size) and the tokenizer (gguf_vocab.py). Tensors keep their
values; only their names (the gguf package's name table), the Q/K row order
(llama_layout.py) and their storage type change:

    quant   2-D weights (incl. token_embd)   1-D tensors and norms
    f16     F16                              F32
    bf16    BF16                             F32
    q8_0    Q8_0 (F16 if a row is not a      F32
            multiple of 32 values)

A model whose lm_head is tied to its embeddings (SmolLM2) gets no `output.weight`: llama.cpp
then reads the output projection from token_embd, as it does for its own conversions.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from tuneforge.export.errors import ExportError
from tuneforge.export.gguf_stream import PlannedTensor, storage_type, write_streamed
from tuneforge.export.gguf_vocab import add_tokenizer_metadata
from tuneforge.export.llama_layout import LlamaLayout, require_gguf

Quant = Literal["f16", "bf16", "q8_0"]
QUANTS: tuple[Quant, ...] = ("f16", "bf16", "q8_0")
SKIPPED_SUFFIXES = (".rotary_emb.inv_freq",)  # buffers some old checkpoints saved


def file_types(quant: str):
    """(GGML type of 2-D weights, llama.cpp file type) for a quant name."""
    gguf = require_gguf()
    types, files = gguf.GGMLQuantizationType, gguf.LlamaFileType
    table = {
        "f16": (types.F16, files.MOSTLY_F16),
        "bf16": (types.BF16, files.MOSTLY_BF16),
        "q8_0": (types.Q8_0, files.MOSTLY_Q8_0),
    }
    if quant not in table:
        raise ExportError(f"quant {quant!r}: choose one of {', '.join(QUANTS)}")
    return table[quant]


def write_gguf(
    model_folder: Path,
    output: Path,
    quant: Quant,
    *,
    pre_tokenizer: str | None = None,
    name: str | None = None,
) -> Path:
    """Write `model_folder` as a GGUF file at `output` and return its path.

    `pre_tokenizer` is llama.cpp's name for the tokenizer's pre-tokenizer; it is found for
    known vocabularies (SmolLM2's) and must be given for others (gguf_vocab.py)."""
    gguf = require_gguf()
    model_folder = Path(model_folder)
    weight_type, file_type = file_types(quant)
    layout = LlamaLayout.read(model_folder)
    plan = model_plan(layout, weight_type)

    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_type(gguf.GGUFType.MODEL)
    writer.add_name(name or model_folder.name)
    add_hyperparameters(writer, layout)
    writer.add_file_type(file_type)
    add_tokenizer_metadata(writer, model_folder, layout.vocab_size, pre_tokenizer)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    return write_streamed(writer, plan, output)


def add_hyperparameters(writer, layout: LlamaLayout) -> None:
    gguf = require_gguf()
    writer.add_context_length(layout.context_length)
    writer.add_embedding_length(layout.hidden_size)
    writer.add_block_count(layout.n_layers)
    writer.add_feed_forward_length(layout.intermediate_size)
    writer.add_head_count(layout.n_heads)
    writer.add_head_count_kv(layout.n_kv_heads)
    writer.add_key_length(layout.head_dim)
    writer.add_value_length(layout.head_dim)
    writer.add_rope_dimension_count(layout.head_dim)
    writer.add_rope_freq_base(layout.rope_theta)
    if layout.rope_scaling is not None:
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(layout.rope_scaling["factor"])
    writer.add_layer_norm_rms_eps(layout.rms_norm_eps)
    writer.add_vocab_size(layout.vocab_size)


def model_plan(layout: LlamaLayout, weight_type) -> list[PlannedTensor]:
    """Every tensor to write, in llama.cpp's usual order, each read only when written."""
    from safetensors import safe_open

    plan = []
    for file in weight_files(layout.folder):
        with safe_open(file, framework="pt") as handle:
            for hf_name in sorted(handle.keys()):
                if layout.is_tied_head(hf_name) or hf_name.endswith(SKIPPED_SUFFIXES):
                    continue
                shape = tuple(handle.get_slice(hf_name).get_shape())
                gguf_name = layout.gguf_name(hf_name)
                plan.append(
                    PlannedTensor(
                        name=gguf_name,
                        shape=shape,
                        qtype=storage_type(gguf_name, shape, weight_type),
                        load=_loader(layout, file, hf_name),
                    )
                )
    return sorted(plan, key=_gguf_order)


def weight_files(folder: Path) -> list[Path]:
    """model.safetensors, or the shards its index names."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return [folder / shard for shard in shards]
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    raise ExportError(
        f"{folder}: no model.safetensors (or index); GGUF export reads safetensors weights"
    )


def _loader(layout: LlamaLayout, file: Path, hf_name: str):
    def load():
        from safetensors import safe_open

        with safe_open(file, framework="pt") as handle:
            tensor = handle.get_tensor(hf_name).float()
        return layout.to_gguf_rows(hf_name, tensor)

    return load


def _gguf_order(tensor: PlannedTensor) -> tuple[int, str]:
    """token_embd, then the blocks in number order, then output_norm and output."""
    parts = tensor.name.split(".")
    if parts[0] == "blk":
        return int(parts[1]), tensor.name
    return (-1 if parts[0] == "token_embd" else 1 << 30), tensor.name
