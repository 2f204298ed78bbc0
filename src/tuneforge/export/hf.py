"""`tuneforge export RUN --format hf`: a plain HF model folder that transformers and vLLM
load without PEFT: an adapter merged into its base (merge/lora.py), or a full model
re-saved in the dtype asked for, with its tokenizer, chat template, and a generation
config that stops at the template's end-of-turn token (a chat model that only stops at
EOS runs on into the next turn in servers that read generation_config.json).

The parity check runs the export and its source (the adapter active on its base, or the
source model) on the same prompts: greedy continuations must be identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuneforge.export.parity import (
    DEFAULT_PROMPTS,
    ParityReport,
    compare_models,
    enforce,
    summarise,
)
from tuneforge.log import info

END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>")
"""End-of-turn markers of the common chat template families, in order of preference."""


def end_of_turn_ids(tokenizer) -> list[int]:
    """EOS, and each end-of-turn marker the chat template writes and the vocabulary has."""
    template = tokenizer.chat_template or ""
    vocabulary = tokenizer.get_vocab()
    ids = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    for marker in END_OF_TURN:
        if marker in template and marker in vocabulary and vocabulary[marker] not in ids:
            ids.append(vocabulary[marker])
    return ids


def export_hf(source, output: Path, dtype: str, log=info) -> ParityReport:
    """Write `source` (a resolved export.run.Source) as an HF folder into `output`,
    check it, and write parity.json beside the weights."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from tuneforge.merge.lora import merge_adapter

    if source.adapter is not None:
        merge_adapter(source.given, output, dtype, log=log)
    else:
        model = AutoModelForCausalLM.from_pretrained(source.folder, dtype=getattr(torch, dtype))
        model.save_pretrained(output)
        AutoTokenizer.from_pretrained(source.folder).save_pretrained(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    generation = _generation_config(source.folder, GenerationConfig)
    generation.eos_token_id = end_of_turn_ids(tokenizer)
    generation.pad_token_id = tokenizer.pad_token_id
    generation.save_pretrained(output)
    report = hf_parity(source, output, dtype, tokenizer)
    report.write(output / "parity.json")
    return report


def _generation_config(folder: Path, cls) -> Any:
    try:
        return cls.from_pretrained(folder)
    except OSError:  # the source has none: start from the defaults
        return cls()


def hf_parity(source, exported: Path, dtype: str, tokenizer) -> ParityReport:
    import torch
    from transformers import AutoModelForCausalLM

    reference: Any = AutoModelForCausalLM.from_pretrained(source.folder, dtype=torch.float32)
    if source.adapter is not None:
        from peft import PeftModel

        reference = PeftModel.from_pretrained(reference, str(source.adapter))
    export = AutoModelForCausalLM.from_pretrained(exported, dtype=torch.float32)
    reference.eval()
    export.eval()
    texts = [
        tokenizer.apply_chat_template(list(p), tokenize=False, add_generation_prompt=True)
        for p in DEFAULT_PROMPTS
    ]
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    rows = compare_models(reference, export, ids, tokenizer.eos_token_id, max_new_tokens=16)
    return enforce(summarise(rows, dtype, source.given, str(exported), same_tokens=True))
