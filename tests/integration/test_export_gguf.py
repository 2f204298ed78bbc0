"""GGUF export of the tiny model and of a LoRA adapter on it, read back and checked.

The model exports are read back by transformers' GGUF loader (independent of our writer,
including the Q/K permutation) and compared on fixed chat prompts; the adapter export is
rebuilt from the file with gguf.GGUFReader and compared with PEFT's merge. Each check
must also be able to fail: a file with one tensor zeroed, or an adapter with one matrix
scaled, is refused.
"""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from tests.helpers import TINY
from tuneforge.export import gguf_vocab
from tuneforge.export.adapter_parity import check_adapter_parity
from tuneforge.export.errors import ExportError, ParityError
from tuneforge.export.gguf_adapter import write_gguf_lora
from tuneforge.export.gguf_model import write_gguf
from tuneforge.export.parity import DEFAULT_PROMPTS, check_parity

gguf = pytest.importorskip("gguf")
TWO_PROMPTS = DEFAULT_PROMPTS[:2]  # the checks that only need to pass or fail, faster


@pytest.fixture(scope="module")
def tiny(tuneforge_cache):
    from tuneforge.models.registry import ensure_cached

    return ensure_cached(TINY, progress=lambda message: None)


@pytest.fixture(scope="module")
def exports(tiny, tmp_path_factory):
    """quant -> the tiny model exported once in that format."""
    out = tmp_path_factory.mktemp("gguf")
    return {q: write_gguf(tiny, out / q / "model.gguf", q) for q in ("f16", "bf16", "q8_0")}


def read(path):
    """(metadata, {tensor name: type name, shape in GGUF order}) of a GGUF file."""
    reader = gguf.GGUFReader(path)
    meta = {k: v.contents() for k, v in reader.fields.items() if not k.startswith("GGUF.")}
    tensors = {t.name: (t.tensor_type.name, [int(n) for n in t.shape]) for t in reader.tensors}
    return meta, tensors


@pytest.fixture(scope="module")
def read_back(exports):
    """quant -> read(the export), parsed once (parsing 49k tokens takes seconds)."""
    return {quant: read(path) for quant, path in exports.items()}


def test_f16_round_trips_with_identical_greedy_output(tiny, exports):
    report = check_parity(tiny, exports["f16"], "f16")

    assert report.passed and report.greedy_identical and report.tokenizer_identical
    assert report.positions == sum(p.prompt_tokens for p in report.prompts) > 100
    assert all(len(p.source_greedy) > 0 for p in report.prompts)
    # f16 rounds each weight by at most 2^-11 relative: logits move by about 1e-4 here.
    assert report.max_abs_logit_diff < 5e-3
    assert abs(report.mean_kl) < 1e-6
    assert json.loads(json.dumps(report.to_dict()))["prompts"][0]["greedy_identical"] is True


def test_q8_0_passes_with_top1_agreement_and_reports_kl(tiny, exports):
    report = check_parity(tiny, exports["q8_0"], "q8_0")

    assert report.passed and report.top1_agreement >= 0.95
    assert -1e-12 < report.mean_kl < 1e-3 and math.isfinite(report.mean_kl)
    assert "top-1 agreement >= 0.95" in report.rule


def test_bf16_round_trips(tiny, exports):
    report = check_parity(tiny, exports["bf16"], "bf16", prompts=TWO_PROMPTS)
    assert report.passed and report.greedy_identical


def test_metadata_reads_back(tiny, read_back):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    meta = read_back["f16"][0]

    assert meta["general.architecture"] == "llama" and meta["general.type"] == "model"
    assert meta["tokenizer.chat_template"] == tokenizer.chat_template
    assert len(meta["tokenizer.ggml.tokens"]) == 49152 == meta["llama.vocab_size"]
    assert meta["tokenizer.ggml.tokens"][:3] == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert (meta["tokenizer.ggml.bos_token_id"], meta["tokenizer.ggml.eos_token_id"]) == (1, 2)
    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "smollm"
    assert meta["tokenizer.ggml.add_bos_token"] is False
    assert len(meta["tokenizer.ggml.merges"]) == 48900
    assert meta["tokenizer.ggml.token_type"][:3] == [3, 3, 3]  # CONTROL
    shape = {
        "llama.block_count": 2,
        "llama.embedding_length": 64,
        "llama.feed_forward_length": 128,
        "llama.attention.head_count": 4,
        "llama.attention.head_count_kv": 2,
        "llama.context_length": 2048,
        "llama.rope.dimension_count": 16,
    }
    assert {k: meta[k] for k in shape} == shape
    assert meta["llama.rope.freq_base"] == 10000.0
    assert meta["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(1e-6)


@pytest.mark.parametrize(
    ("quant", "matrix_type", "file_type"),
    [("f16", "F16", 1), ("bf16", "BF16", 32), ("q8_0", "Q8_0", 7)],
)
def test_storage_types_follow_llama_cpp(read_back, quant, matrix_type, file_type):
    meta, tensors = read_back[quant]
    types = {name: kind for name, (kind, _) in tensors.items()}

    assert "output.weight" not in types  # tied to token_embd, as llama.cpp writes it
    assert len(types) == 1 + 2 * 9 + 1
    assert types["token_embd.weight"] == types["blk.1.attn_q.weight"] == matrix_type
    assert types["blk.0.attn_norm.weight"] == types["output_norm.weight"] == "F32"
    assert meta["general.file_type"] == file_type


def test_a_zeroed_tensor_fails_the_check(tiny, exports, tmp_path):
    broken = tmp_path / "model.gguf"
    shutil.copy(exports["f16"], broken)
    reader = gguf.GGUFReader(broken, "r+")
    norm = next(t for t in reader.tensors if t.name == "output_norm.weight")
    norm.data[:] = 0  # every logit becomes 0
    reader.data.flush()
    del reader

    with pytest.raises(ParityError, match="parity check failed") as failure:
        check_parity(tiny, broken, "f16", prompts=TWO_PROMPTS, max_new_tokens=4)
    assert failure.value.report["greedy_identical"] is False
    assert failure.value.report["passed"] is False


def test_unknown_vocabulary_needs_a_pre_tokenizer_name(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(gguf_vocab, "KNOWN_PRE_TOKENIZERS", {})
    with pytest.raises(ExportError, match="tokenizer.ggml.pre"):
        write_gguf(tiny, tmp_path / "a.gguf", "f16")
    assert not (tmp_path / "a.gguf").exists() and not (tmp_path / "a.gguf.partial").exists()

    written = write_gguf(tiny, tmp_path / "b.gguf", "f16", pre_tokenizer="gpt-2")
    assert read(written)[0]["tokenizer.ggml.pre"] == "gpt-2"


# --- LoRA adapters ---------------------------------------------------------------------


def save_lora(tiny, folder, seed=1, **config):
    """A PEFT LoRA on the tiny model with random non-zero B (a fresh LoRA has B = 0)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny, dtype=torch.float32)
    settings = dict(r=4, lora_alpha=8, target_modules="all-linear", lora_dropout=0.0) | config
    peft_model = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **settings))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.05)
    peft_model.save_pretrained(folder)
    return folder


@pytest.mark.parametrize(
    "config",
    [
        {},
        # scales llama.cpp's alpha / r cannot express, folded into lora_B
        {"use_rslora": True, "rank_pattern": {"q_proj": 2}, "alpha_pattern": {"v_proj": 3}},
    ],
    ids=["plain", "rslora-patterns"],
)
@pytest.mark.parametrize("dtype", ["f16", "f32"])
def test_lora_adapter_rebuilds_peft_delta(tiny, tmp_path, config, dtype):
    adapter = save_lora(tiny, tmp_path / "adapter", **config)
    written = write_gguf_lora(adapter, tiny, tmp_path / "adapter.gguf", dtype=dtype)

    report = check_adapter_parity(adapter, tiny, written)
    assert report.passed and len(report.modules) == 2 * 7
    assert report.worst_error_to_bound <= 1
    if dtype == "f16":
        assert 0 < report.max_abs_diff < 1e-3
    else:
        assert report.max_abs_diff < 1e-6

    meta, tensors = read(written)
    assert (meta["general.type"], meta["adapter.type"]) == ("adapter", "lora")
    assert meta["general.architecture"] == "llama" and meta["adapter.lora.alpha"] == 8.0
    shapes = {name: shape for name, (_, shape) in tensors.items()}  # GGUF order: ne0 first
    rank_q = 2 if config else 4
    assert shapes["blk.0.attn_q.weight.lora_a"] == [64, rank_q]  # A: (r, in)
    assert shapes["blk.0.attn_k.weight.lora_b"] == [4, 32]  # B: (out, r), 2 KV heads x 16


def test_a_changed_adapter_matrix_fails_the_check(tiny, tmp_path):
    adapter = save_lora(tiny, tmp_path / "adapter")
    written = write_gguf_lora(adapter, tiny, tmp_path / "adapter.gguf")
    reader = gguf.GGUFReader(written, "r+")
    lora_b = next(t for t in reader.tensors if t.name == "blk.1.attn_k.weight.lora_b")
    lora_b.data[:] = lora_b.data * 1.01
    reader.data.flush()
    del reader

    with pytest.raises(ParityError, match="adapter parity check failed") as failure:
        check_adapter_parity(adapter, tiny, written)
    assert failure.value.report["worst_error_to_bound"] > 1


def test_dora_adapter_is_refused(tiny, tmp_path):
    adapter = save_lora(tiny, tmp_path / "adapter", use_dora=True)
    with pytest.raises(ExportError, match="use_dora.*[Mm]erge the adapter"):
        write_gguf_lora(adapter, tiny, tmp_path / "adapter.gguf")
    assert not (tmp_path / "adapter.gguf").exists()
