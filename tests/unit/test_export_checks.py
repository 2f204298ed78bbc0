"""The pieces of the GGUF export that decide correctness on their own: the Q/K row order,
the storage type of each tensor, the LoRA scale, and what is refused before writing."""

from __future__ import annotations

import json
import math

import pytest
import torch

from tuneforge.export.errors import ExportError
from tuneforge.export.gguf_adapter import _peft_scale, llama_cpp_scale, read_lora_config
from tuneforge.export.gguf_stream import storage_type
from tuneforge.export.llama_layout import (
    LlamaLayout,
    deinterleave_rope_rows,
    interleave_rope_rows,
)

gguf = pytest.importorskip("gguf")
TYPES = gguf.GGMLQuantizationType


@pytest.mark.parametrize("heads", [4, 2])
def test_rope_rows_are_what_transformers_undoes(heads):
    from transformers.modeling_gguf_pytorch_utils import LlamaTensorProcessor

    weight = torch.randn(heads * 16, 64)
    interleaved = interleave_rope_rows(weight, heads)

    # Head 0, head_dim 16: rows [0..7 | 8..15] become pairs (0, 8), (1, 9), ...
    assert torch.equal(interleaved[:4], weight[[0, 8, 1, 9]])
    assert torch.equal(deinterleave_rope_rows(interleaved, heads), weight)
    undo = LlamaTensorProcessor()._reverse_permute_weights(interleaved.numpy(), heads, heads)
    assert torch.equal(torch.from_numpy(undo), weight)


def test_storage_types_follow_llama_cpp():
    assert storage_type("blk.0.attn_norm.weight", (64,), TYPES.Q8_0) == TYPES.F32
    assert storage_type("blk.0.attn_q.bias", (64,), TYPES.F16) == TYPES.F32
    assert storage_type("blk.0.attn_q.weight", (64, 64), TYPES.Q8_0) == TYPES.Q8_0
    assert storage_type("token_embd.weight", (10, 64), TYPES.BF16) == TYPES.BF16
    # a row of 48 values is not a whole number of 32-value Q8_0 blocks
    assert storage_type("blk.0.ffn_up.weight", (64, 48), TYPES.Q8_0) == TYPES.F16


def write_config(folder, **config):
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


LLAMA = dict(
    model_type="llama",
    num_hidden_layers=2,
    hidden_size=64,
    intermediate_size=128,
    num_attention_heads=4,
    num_key_value_heads=2,
    max_position_embeddings=2048,
    rms_norm_eps=1e-6,
    vocab_size=100,
)


def test_layout_reads_llama_and_refuses_others(tmp_path):
    layout = LlamaLayout.read(write_config(tmp_path / "llama", **LLAMA))
    assert (layout.head_dim, layout.n_kv_heads, layout.rope_theta) == (16, 2, 10000.0)
    assert layout.gguf_name("model.layers.1.self_attn.k_proj.weight") == "blk.1.attn_k.weight"
    assert layout.gguf_name("model.norm.weight") == "output_norm.weight"
    assert layout.heads_of("model.layers.0.self_attn.q_proj.weight") == 4
    assert layout.heads_of("model.layers.0.self_attn.v_proj.weight") is None

    with pytest.raises(ExportError, match="model_type is 'gpt2'.*Llama family"):
        LlamaLayout.read(write_config(tmp_path / "gpt2", **{**LLAMA, "model_type": "gpt2"}))
    yarn = {**LLAMA, "rope_parameters": {"rope_type": "yarn", "factor": 4.0}}
    with pytest.raises(ExportError, match="rope_type 'yarn' is not supported"):
        LlamaLayout.read(write_config(tmp_path / "yarn", **yarn))


def test_lora_scales_fold_into_llama_cpp_alpha_over_r():
    plain = {"lora_alpha": 16}
    assert _peft_scale(plain, "base_model.model.model.layers.0.self_attn.q_proj", 8) == 2.0
    rslora = {"lora_alpha": 16, "use_rslora": True}
    assert _peft_scale(rslora, "model.layers.0.mlp.up_proj", 4) == 8.0  # 16 / sqrt(4)
    pattern = {"lora_alpha": 16, "alpha_pattern": {"v_proj": 4}}
    assert _peft_scale(pattern, "base_model.model.model.layers.0.self_attn.v_proj", 8) == 0.5
    assert _peft_scale(pattern, "base_model.model.model.layers.0.self_attn.q_proj", 8) == 2.0
    # llama.cpp: alpha / r, and no alpha means a scale of 1
    assert llama_cpp_scale(16.0, 8) == 2.0 and llama_cpp_scale(0.0, 8) == 1.0
    assert math.isclose(8.0 / llama_cpp_scale(16.0, 4), 2.0)  # the rsLoRA fold factor


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"peft_type": "IA3"}, "only plain LoRA adapters.*Merge the adapter"),
        ({"peft_type": "PROMPT_TUNING"}, "virtual tokens"),
        ({"peft_type": "LORA", "use_dora": True}, "use_dora.*Merge the adapter"),
        ({"peft_type": "LORA", "bias": "all"}, "trained biases"),
        ({"peft_type": "LORA", "modules_to_save": ["score"]}, "modules_to_save"),
    ],
)
def test_adapters_llama_cpp_cannot_apply_are_refused(tmp_path, config, message):
    (tmp_path / "adapter_config.json").write_text(json.dumps({"lora_alpha": 8, **config}))
    with pytest.raises(ExportError, match=message):
        read_lora_config(tmp_path)
