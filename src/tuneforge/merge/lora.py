"""A PEFT adapter merged into its base: a normal HF model folder that loads without PEFT,
computes what base + adapter computed, and serves with no adapter overhead.

PEFT's own `merge_and_unload` does the arithmetic, so every adapter type it can fold in is
merged as PEFT defines it: LoRA (alpha / r, or alpha / sqrt(r) for rsLoRA), DoRA (the
magnitude vector and the column norm), IA3 (the learned scaling of activations). Prompt
and prefix tuning add virtual tokens instead of changing weights: there is nothing to
merge, and they are refused with that reason.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tuneforge.errors import TuneForgeError
from tuneforge.log import info
from tuneforge.run_dir import base_model_of, resolve_adapter_dir

NOT_MERGEABLE = {
    "PROMPT_TUNING": "prompt tuning",
    "PREFIX_TUNING": "prefix tuning",
    "P_TUNING": "p-tuning",
}
DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def adapter_type(adapter_folder: Path) -> str:
    config = json.loads((adapter_folder / "adapter_config.json").read_text())
    return str(config.get("peft_type", "LORA"))


def check_mergeable(adapter_folder: Path) -> None:
    kind = adapter_type(adapter_folder)
    if kind in NOT_MERGEABLE:
        raise TuneForgeError(
            f"{adapter_folder}: a {NOT_MERGEABLE[kind]} adapter learns virtual tokens, not "
            "weight changes, so it cannot be merged into the base; serve or evaluate it as "
            "an adapter instead"
        )


def merge_adapter(
    adapter: str | Path, output: Path, dtype: str = "float32", base: str | None = None, log=info
) -> Path:
    """Merge `adapter` (a run directory or adapter folder) into its base (or `base`),
    written whole into `output` (through a .partial folder); its tokenizer goes with it."""
    import torch
    from peft import PeftModel

    from tuneforge.config import ModelConfig
    from tuneforge.models.loading import load_model, load_tokenizer

    folder, kind = resolve_adapter_dir(adapter)
    if kind != "adapter":
        raise TuneForgeError(f"{adapter}: a full model, not an adapter: there is nothing to merge")
    check_mergeable(folder)
    base = base or base_model_of(adapter)
    if base is None:
        raise TuneForgeError(f"{adapter}: cannot tell which base the adapter was trained on")
    log(f"merging {folder} into {base}")
    # The arithmetic in float32 whatever the product's dtype: a bf16 base plus a small
    # delta would round the delta away.
    model = load_model(ModelConfig(name_or_path=base, dtype="float32"), progress=log)
    merged = PeftModel.from_pretrained(model, str(folder)).merge_and_unload()
    merged = merged.to(getattr(torch, DTYPES[dtype]))
    # The run saved the tokenizer it trained with beside the adapter; else the base's.
    if (folder / "tokenizer_config.json").is_file():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(folder))
    else:
        tokenizer = load_tokenizer(base, log)
    partial = output.with_name(output.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    merged.save_pretrained(partial)
    tokenizer.save_pretrained(partial)
    shutil.rmtree(output, ignore_errors=True)
    partial.rename(output)
    return output
