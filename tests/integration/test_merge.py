"""`tuneforge merge` on the tiny model: the adapter-merge contract (PEFT's own test shape),
model merges that must return their input, and the checks that refuse a merge before
any compute, leaving nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.helpers import TINY, chat_records, tiny_overrides, write_jsonl, write_yaml
from tuneforge.cli.main import main as tuneforge

PROMPT_IDS = torch.tensor([[1, 422, 1734, 314, 253, 2443, 30, 198]])


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tuneforge_cache):
    root = tmp_path_factory.mktemp("merge")
    train = write_jsonl(root / "train.jsonl", chat_records(16, seed=1))
    config = write_yaml(root / "run.yaml", {})
    for name, extra in (
        ("lora_a", ["train.seed=1"]),
        ("lora_b", ["train.seed=2", "train.lr=5e-3"]),
        ("dora", ["adapter.type=dora"]),
        ("prompt", ["adapter.type=prompt_tuning", "adapter.num_virtual_tokens=4"]),
    ):
        overrides = [*tiny_overrides(train, root / name), *extra]
        assert tuneforge(["train", str(config), *overrides]) == 0
    return root


def logits_of(folder: Path) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(PROMPT_IDS).logits


def adapter_logits(run: Path) -> torch.Tensor:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from tuneforge.models.registry import ensure_cached

    base = AutoModelForCausalLM.from_pretrained(ensure_cached(TINY), dtype=torch.float32)
    model = PeftModel.from_pretrained(base, run / "adapter").eval()
    with torch.no_grad():
        return model(PROMPT_IDS).logits


def merge(root: Path, name: str, config: dict) -> tuple[int, Path]:
    path = write_yaml(root / f"{name}.yaml", config)
    return tuneforge(["merge", str(path), str(root / name)]), root / name


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


@pytest.mark.parametrize("adapter", ["lora_a", "dora"])
def test_a_merged_adapter_computes_what_the_active_adapter_did(runs, adapter):
    code, out = merge(
        runs,
        f"merged-{adapter}",
        {"merge_method": "lora", "models": [{"model": str(runs / adapter)}]},
    )
    assert code == 0
    torch.testing.assert_close(logits_of(out), adapter_logits(runs / adapter), rtol=0, atol=1e-5)
    record = json.loads((out / "merge.json").read_text())
    assert (
        record["adapter"]["type"] == ("DORA" if adapter == "dora" else "LORA")
        or record["adapter"]["type"] == "LORA"
    )
    assert (out / "tokenizer.json").is_file() and "tuneforge merge" in (
        out / "README.md"
    ).read_text()


def test_task_arithmetic_with_weight_one_reproduces_the_adapter_merge(runs):
    """base + 1 x (adapter's model - base) = the adapter merged: the same tensors."""
    code, merged = merge(runs, "ta-one", {
        "merge_method": "task_arithmetic", "base_model": TINY,
        "models": [{"model": str(runs / "lora_a"), "parameters": {"weight": 1.0}}],
    })  # fmt: skip
    assert code == 0
    code, direct = merge(
        runs, "lora-direct", {"merge_method": "lora", "models": [{"model": str(runs / "lora_a")}]}
    )
    assert code == 0
    ours, expected = weights(merged), weights(direct)
    assert ours.keys() == expected.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], expected[name], rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    ("method", "parameters", "per_model", "copies"),
    [
        ("linear", {}, {"weight": 0.5}, 2),  # (x + x) / 2
        ("task_arithmetic", {}, {"weight": 0.7}, 2),  # x + 0.7 (x - x) + 0.7 (x - x)
        ("ties", {}, {"weight": 1.0, "density": 1.0}, 2),
        ("dare_linear", {}, {"weight": 1.0, "density": 1.0}, 1),
    ],
)
def test_merging_a_model_with_itself_returns_it(runs, method, parameters, per_model, copies):
    from tuneforge.models.registry import ensure_cached

    original = weights(ensure_cached(TINY))
    config = {
        "merge_method": method, "parameters": parameters,
        "models": [{"model": TINY, "parameters": per_model}] * copies,
    }  # fmt: skip
    if method != "linear":
        config["base_model"] = str(ensure_cached(TINY))  # the same model under another name
    code, out = merge(runs, f"self-{method}", config)
    assert code == 0
    merged = weights(out)
    for name, tensor in original.items():
        torch.testing.assert_close(merged[name], tensor, rtol=0, atol=1e-6, msg=name)


def test_slerp_endpoints_are_its_two_models(runs):
    from tuneforge.models.registry import ensure_cached

    base = weights(ensure_cached(TINY))
    other = weights(runs / "lora-direct")
    for t, expected in ((0.0, base), (1.0, other)):
        code, out = merge(runs, f"slerp-{t}", {
            "merge_method": "slerp", "base_model": TINY, "parameters": {"t": t},
            "models": [{"model": TINY}, {"model": str(runs / "lora-direct")}],
        })  # fmt: skip
        assert code == 0
        merged = weights(out)
        for name in expected:
            torch.testing.assert_close(merged[name], expected[name], rtol=0, atol=1e-6)


def test_per_tensor_filters_pick_each_tensors_value(runs):
    """t = 0 on attention tensors (the base's), 1 elsewhere (the other model's)."""
    from tuneforge.models.registry import ensure_cached

    base, other = weights(ensure_cached(TINY)), weights(runs / "lora-direct")
    code, out = merge(runs, "filtered", {
        "merge_method": "slerp", "base_model": TINY,
        "parameters": {"t": [{"filter": "self_attn", "value": 0.0}, {"value": 1.0}]},
        "models": [{"model": str(runs / "lora-direct")}],
    })  # fmt: skip
    assert code == 0
    merged = weights(out)
    attention = "model.layers.0.self_attn.q_proj.weight"
    mlp = "model.layers.0.mlp.up_proj.weight"
    torch.testing.assert_close(merged[attention], base[attention], rtol=0, atol=1e-6)
    torch.testing.assert_close(merged[mlp], other[mlp], rtol=0, atol=1e-6)


def test_a_vocabulary_mismatch_is_refused_naming_both_sizes(runs, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tuneforge.models.registry import ensure_cached

    bigger = runs / "bigger-vocab"
    tokenizer = AutoTokenizer.from_pretrained(ensure_cached(TINY))
    tokenizer.add_tokens(["<extra_a>", "<extra_b>"])
    model = AutoModelForCausalLM.from_pretrained(ensure_cached(TINY))
    model.resize_token_embeddings(len(tokenizer))
    model.save_pretrained(bigger)
    tokenizer.save_pretrained(bigger)
    code, out = merge(runs, "mismatch", {
        "merge_method": "linear",
        "models": [{"model": TINY, "parameters": {"weight": 0.5}},
                   {"model": str(bigger), "parameters": {"weight": 0.5}}],
    })  # fmt: skip
    assert code == 1 and not out.exists() and not out.with_name("mismatch.partial").exists()
    error = capsys.readouterr().err
    assert "49152 tokens" in error and "49154" in error


def test_prompt_tuning_cannot_be_merged(runs, capsys):
    code, out = merge(
        runs, "prompt-merged", {"merge_method": "lora", "models": [{"model": str(runs / "prompt")}]}
    )
    assert code == 1 and not out.exists()
    assert "virtual tokens" in capsys.readouterr().err


def test_an_unknown_parameter_gets_a_suggestion(runs, capsys):
    code, out = merge(runs, "typo", {
        "merge_method": "ties", "base_model": TINY,
        "models": [{"model": str(runs / "lora_a"), "parameters": {"weight": 1.0, "densty": 0.5}}],
    })  # fmt: skip
    assert code == 1 and not out.exists()
    assert "density" in capsys.readouterr().err


def test_evaluate_scores_the_merge_and_its_sources_and_names_the_best(runs):
    valid = write_jsonl(runs / "valid.jsonl", chat_records(4, seed=3))
    code, out = merge(runs, "evaluated", {
        "merge_method": "linear",
        "models": [{"model": str(runs / "lora_a"), "parameters": {"weight": 0.5}},
                   {"model": str(runs / "lora_b"), "parameters": {"weight": 0.5}}],
        "evaluate": {"tasks": [{"kind": "loss", "path": str(valid)}], "batch_size": 4},
    })  # fmt: skip
    assert code == 0
    table = json.loads((out / "evaluation.json").read_text())
    # The merge and its sources, then the base the adapters were scored beside (one load).
    assert list(table["candidates"]) == [str(out), str(runs / "lora_a"), str(runs / "lora_b"), TINY]
    losses = {c: r["valid"]["metrics"]["loss"] for c, r in table["candidates"].items()}
    assert table["by"] == "valid/loss" and table["best"] == min(losses, key=losses.get)
    assert "(merged)" in (out / "evaluation.md").read_text()
    assert json.loads((out / "merge.json").read_text())["evaluation"]["best"] == table["best"]
