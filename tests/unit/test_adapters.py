"""Every adapter type trains through the real SFT recipe: the loss is finite, the
weights that should change did, and the frozen base weights did not."""

from __future__ import annotations

import math
import re

import pytest
import torch

from tests.helpers import chat_records, read_summary, tiny_config, write_jsonl
from tuneforge.run_dir import resolve_adapter_dir
from tuneforge.train import session
from tuneforge.train.methods.sft import recipe

TRAINABLE = {
    "full": r".",
    "lora": r"\.lora_[AB]\.",
    "qlora": r"\.lora_[AB]\.",
    "dora": r"\.lora_([AB]\.|magnitude_vector)",
    "ia3": r"\.ia3_l\.",
    "prompt_tuning": r"^prompt_encoder\.",
    "prefix_tuning": r"^prompt_encoder\.",
}


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    return write_jsonl(tmp_path_factory.mktemp("data") / "train.jsonl", chat_records(16))


def train_and_snapshot(cfg, monkeypatch):
    """Run the recipe; return the model and its state (by name) just before training."""
    seen = {}
    attach = session.attach_adapter

    def attach_and_snapshot(model, *args, **kwargs):
        model = attach(model, *args, **kwargs)
        seen["model"] = model
        seen["before"] = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return model

    monkeypatch.setattr(session, "attach_adapter", attach_and_snapshot)
    summary = recipe.train_sft(cfg, log=lambda message: None)
    return summary, seen["model"], seen["before"]


@pytest.mark.parametrize("adapter", list(TRAINABLE))
def test_adapter_trains_only_what_it_should(adapter, train_file, tmp_path, monkeypatch):
    cfg = tiny_config(
        train_file, tmp_path / "run", f"adapter.type={adapter}", "adapter.num_virtual_tokens=4"
    )
    summary, model, before = train_and_snapshot(cfg, monkeypatch)
    assert summary["status"] == "completed" and summary["steps"] == 3
    assert math.isfinite(summary["final_loss"])

    # remove_duplicate=False: tied weights (lm_head = embed_tokens) appear under both names.
    params = dict(model.named_parameters(remove_duplicate=False))
    trainable = {n for n, p in params.items() if p.requires_grad}
    assert trainable and all(re.search(TRAINABLE[adapter], n) for n in trainable)
    after = model.state_dict()
    assert set(after) == set(before)
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert changed == trainable, (
        f"trainable but unchanged: {sorted(trainable - changed)[:3]}; "
        f"frozen but changed: {sorted(changed - trainable)[:3]}"
    )

    folder, kind = resolve_adapter_dir(tmp_path / "run")
    if adapter == "full":
        assert kind == "model" and (folder / "model.safetensors").is_file()
        assert trainable == set(params)
    else:
        assert kind == "adapter"
        assert {"adapter_config.json", "adapter_model.safetensors"} <= {
            p.name for p in folder.iterdir()
        }
        assert summary["trainable_parameters"] < summary["total_parameters"] / 20
    assert read_summary(tmp_path / "run")["output"] == str(folder)
    if adapter == "qlora":
        assert_base_is_4bit_nf4(model)


def assert_base_is_4bit_nf4(model) -> None:
    """QLoRA runs on CPU too (bitsandbytes >= 0.45): every base linear is frozen NF4."""
    import bitsandbytes as bnb

    quantized = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
    assert len(quantized) == 2 * 7  # q k v o gate up down, in each of 2 layers
    assert all(m.weight.quant_state.quant_type == "nf4" for m in quantized)
    assert all(not m.weight.requires_grad and m.weight.dtype == torch.uint8 for m in quantized)
