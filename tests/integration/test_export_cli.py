"""`tuneforge export` on a tiny LoRA run: an HF folder that loads without PEFT and stops
at the end of a turn, a GGUF with its Modelfile, a GGUF adapter, each checked by reading
it back; a failed check leaves nothing behind and exits non-zero."""

from __future__ import annotations

import json

import pytest

from tests.helpers import chat_records, tiny_overrides, write_jsonl, write_yaml
from tuneforge.cli.main import main as tuneforge


@pytest.fixture(scope="module")
def run(tmp_path_factory, tuneforge_cache):
    root = tmp_path_factory.mktemp("export")
    train = write_jsonl(root / "train.jsonl", chat_records(16, seed=1))
    config = write_yaml(root / "run.yaml", {})
    assert tuneforge(["train", str(config), *tiny_overrides(train, root / "run")]) == 0
    return root / "run"


def test_hf_export_is_the_merged_model_and_stops_at_the_end_of_a_turn(run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    out = tmp_path / "hf"
    assert tuneforge(["export", str(run), "--format", "hf", "--output", str(out)]) == 0
    assert not (out / "adapter_config.json").exists()
    AutoModelForCausalLM.from_pretrained(out)  # a plain transformers model
    tokenizer = AutoTokenizer.from_pretrained(out)
    eos = GenerationConfig.from_pretrained(out).eos_token_id
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in eos
    parity = json.loads((out / "parity.json").read_text())
    assert parity["passed"] and parity["greedy_identical"] and parity["max_abs_logit_diff"] < 1e-4
    assert json.loads((out / "export.json").read_text())["format"] == "hf"


def test_gguf_export_with_a_modelfile_and_a_gguf_adapter(run, tmp_path):
    merged = tmp_path / "gguf"
    assert tuneforge(["export", str(run), "--format", "gguf", "--output", str(merged)]) == 0
    assert (merged / "model-f16.gguf").is_file() and json.loads(
        (merged / "parity.json").read_text()
    )["passed"]
    assert 'TEMPLATE """' in (merged / "Modelfile").read_text()
    adapter = tmp_path / "gguf-adapter"
    code = tuneforge(
        ["export", str(run), "--format", "gguf", "--lora-adapter", "--output", str(adapter)]
    )
    assert code == 0
    record = json.loads((adapter / "export.json").read_text())
    assert record["parity"]["model"]["passed"] and record["parity"]["adapter"]["passed"]
    assert "ADAPTER ./adapter-f16.gguf" in (adapter / "Modelfile").read_text()


def test_a_failed_parity_check_exits_non_zero_and_leaves_nothing(run, tmp_path, monkeypatch):
    import tuneforge.export.parity as parity

    def fails(*args, **kwargs):
        raise parity.ParityError("parity check failed (forced by the test)", None)

    monkeypatch.setattr(parity, "check_parity", fails)
    out = tmp_path / "broken"
    assert tuneforge(["export", str(run), "--format", "gguf", "--output", str(out)]) == 1
    assert not out.exists() and not out.with_name("broken.partial").exists()
