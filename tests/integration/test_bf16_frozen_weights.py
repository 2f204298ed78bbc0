"""Adapter runs in bf16 autocast store the base model's frozen Linear weights in bf16
(train/setup.store_frozen_linears_in_bf16): autocast casts them to exactly that for
every matmul, so a run trains to the same bits as one over float32 frozen weights, its
adapter is the same float32 PEFT adapter, and a checkpoint written over float32 weights
resumes exactly. Everything trainable, norms, embeddings, tied heads, reward heads, full
fine-tuning, float32 runs and methods that generate keep float32.

The reference runs here are the same runs with the conversion switched off."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.helpers import (
    TINY,
    chat_records,
    interrupt_after_checkpoint,
    read_metrics,
    read_summary,
    tiny_config,
    write_jsonl,
)
from tests.integration.test_preference_methods import preference_records
from tuneforge.config import ModelConfig
from tuneforge.models.loading import load_model
from tuneforge.train import session as session_module
from tuneforge.train import train
from tuneforge.train.session import open_session

BF16 = "train.mixed_precision=bf16"
UNTIMED = ("seconds", "per_second", "time")


def quiet(message: str) -> None:
    pass


@pytest.fixture(scope="module")
def chats(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("chats") / "train.jsonl", chat_records(24))


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", preference_records(24))


@pytest.fixture(scope="module")
def feedback(tmp_path_factory):
    records = [
        {"prompt": r["prompt"], "completion": r["chosen" if i % 2 else "rejected"],
         "label": bool(i % 2)}
        for i, r in enumerate(preference_records(24))
    ]  # fmt: skip
    return write_jsonl(tmp_path_factory.mktemp("kto") / "kto.jsonl", records)


def frozen_in_float32(monkeypatch) -> None:
    """This module's runs as before the change: every weight float32."""
    monkeypatch.setattr(session_module, "store_frozen_linears_in_bf16", lambda *args: 0)


def count_conversions(monkeypatch) -> list[int]:
    """The real conversion, recording how many layers each session converted."""
    real, counts = session_module.store_frozen_linears_in_bf16, []

    def recorded(*args):
        counts.append(real(*args))
        return counts[-1]

    monkeypatch.setattr(session_module, "store_frozen_linears_in_bf16", recorded)
    return counts


def metric_rows(run) -> list[dict]:
    rows = [r for r in read_metrics(run) if "event" not in r]
    return [{k: v for k, v in r.items() if not any(u in k for u in UNTIMED)} for r in rows]


def adapter_weights(run) -> dict[str, torch.Tensor]:
    return load_file(run / "adapter" / "adapter_model.safetensors")


CASES = {  # name: (data fixture, overrides)
    "sft-lora": ("chats", ["adapter.dropout=0.1"]),
    "sft-lora-checkpointed": ("chats", ["model.gradient_checkpointing=true"]),
    "sft-ia3": ("chats", ["adapter.type=ia3"]),
    "sft-prompt-tuning": ("chats", ["adapter.type=prompt_tuning"]),
    "sft-prefix-tuning": ("chats", ["adapter.type=prefix_tuning"]),
    "dpo-precomputed": ("pairs", ["method.name=dpo"]),
    "dpo-on-the-fly": ("pairs", ["method.name=dpo", "method.precompute_reference=false"]),
    "kto": ("feedback", ["method.name=kto"]),
    "reward": ("pairs", ["method.name=reward"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bf16_frozen_weights_train_to_the_same_bits(case, request, tmp_path, monkeypatch):
    """Every loss and metric of training and validation (reference log-probs included),
    and the saved adapter, bit for bit."""
    fixture, overrides = CASES[case]
    data = request.getfixturevalue(fixture)
    common = [BF16, "data.validation_split=0.25", "train.eval_every=2", *overrides]
    before, after = tmp_path / "before", tmp_path / "after"
    with monkeypatch.context() as patch:
        frozen_in_float32(patch)
        train(tiny_config(data, before, *common))
    conversions = count_conversions(monkeypatch)
    train(tiny_config(data, after, *common))

    assert conversions[0] > 0  # it really ran over bf16 weights
    assert read_summary(after)["status"] == "completed"
    assert metric_rows(after) == metric_rows(before)
    saved, expected = adapter_weights(after), adapter_weights(before)
    assert saved.keys() == expected.keys()
    for name, tensor in expected.items():
        assert saved[name].dtype == torch.float32 and torch.equal(saved[name], tensor), name
    config = "adapter_config.json"
    assert (after / "adapter" / config).read_text() == (before / "adapter" / config).read_text()


def test_a_checkpoint_from_float32_frozen_weights_resumes_exactly(chats, tmp_path, monkeypatch):
    common = [BF16, "adapter.dropout=0.1", "train.max_steps=4", "train.save_every=2"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    train(tiny_config(chats, straight, *common))
    with monkeypatch.context() as patch:
        frozen_in_float32(patch)
        interrupt_after_checkpoint(patch, at_step=2)
        with pytest.raises(KeyboardInterrupt):
            train(tiny_config(chats, resumed, *common))
    conversions = count_conversions(monkeypatch)
    torch.manual_seed(1234)  # nothing but the checkpoint may carry state over
    train(tiny_config(chats, resumed, *common), resume=True)

    assert conversions == [14]
    assert read_summary(resumed)["status"] == "completed"
    assert metric_rows(resumed) == metric_rows(straight)
    for name, tensor in adapter_weights(straight).items():
        assert torch.equal(adapter_weights(resumed)[name], tensor), name


def dtypes(model) -> dict[str, torch.dtype]:
    return {name: p.dtype for name, p in model.named_parameters()}


def test_bf16_lora_stores_only_frozen_linear_weights_in_bf16(chats, tokenizer, tmp_path):
    session = open_session(tiny_config(chats, tmp_path / "run", BF16), tokenizer, False, quiet)
    model = session.accelerator.unwrap_model(session.model)
    linears = {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.endswith(".base_layer")
    }
    assert len(linears) == 14  # 7 per layer; the head, tied to the embeddings, is not one
    for name, param in model.named_parameters():
        frozen_linear = name.rpartition(".")[0] in linears
        assert param.dtype == (torch.bfloat16 if frozen_linear else torch.float32), name
        assert not (frozen_linear and param.requires_grad), name
    assert any("lora_A" in name for name, p in model.named_parameters() if p.requires_grad)
    assert session.optimizer.param_groups[0]["params"][0].dtype == torch.float32
    head = model.get_base_model().lm_head.weight
    assert head is model.get_input_embeddings().weight and head.dtype == torch.float32
    assert not [name for name, p in model.named_parameters() if in_a_mapped_file(p)]


@pytest.mark.skipif(torch.cuda.is_available(), reason="on CUDA the map goes with the move")
def test_a_4bit_model_keeps_nothing_in_the_checkpoint_file():
    """Quantising reads every float32 page of the checkpoint; a float tensor left in its
    map (the embeddings) would keep them all resident."""
    pytest.importorskip("bitsandbytes")
    model = load_model(ModelConfig(name_or_path=TINY), quantize_4bit=True)
    tensors = [*model.named_parameters(), *model.named_buffers()]
    assert any(t.dtype == torch.uint8 for _, t in tensors)  # quantised, then
    assert not [name for name, t in tensors if in_a_mapped_file(t)]


def in_a_mapped_file(tensor: torch.Tensor) -> bool:
    """Whether the tensor's memory is a view of a memory-mapped safetensors file (what
    from_pretrained returns: it would keep the file's float32 pages resident)."""
    maps = Path("/proc/self/maps")
    if not maps.exists():
        pytest.skip("needs /proc (Linux)")
    for line in maps.read_text().splitlines():
        if line.endswith(".safetensors"):
            start, stop = (int(x, 16) for x in line.split()[0].split("-"))
            if start <= tensor.data_ptr() < stop:
                return True
    return False


def test_a_reward_models_score_head_stays_float32(pairs, tokenizer, tmp_path):
    cfg = tiny_config(pairs, tmp_path / "run", BF16, "method.name=reward")
    session = open_session(cfg, tokenizer, False, quiet, scalar_head=True)
    types = dtypes(session.model)
    score = {name: dtype for name, dtype in types.items() if ".score." in name}
    assert len(score) == 2 and set(score.values()) == {torch.float32}  # trained copy, original
    assert types["base_model.model.model.layers.0.mlp.up_proj.base_layer.weight"] == torch.bfloat16


@pytest.mark.parametrize(
    ("overrides", "generates"),
    [
        (["train.mixed_precision=no"], False),
        ([BF16, "adapter.type=full"], False),
        ([BF16, "adapter.type=dora"], False),  # DoRA takes the base weight's norm in float32
        ([BF16], True),  # generate() runs outside the run's autocast
    ],
    ids=["float32", "full", "dora", "generates"],
)
def test_other_runs_keep_every_weight_float32(chats, tokenizer, tmp_path, overrides, generates):
    cfg = tiny_config(chats, tmp_path / "run", *overrides)
    session = open_session(cfg, tokenizer, False, quiet, generates=generates)
    assert set(dtypes(session.model).values()) == {torch.float32}
