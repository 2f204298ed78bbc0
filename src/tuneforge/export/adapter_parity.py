"""Checking a LoRA adapter GGUF against PEFT, by rebuilding the merged weights from the file.

transformers cannot load a LoRA adapter GGUF, so the check does what llama.cpp does with
one: for every `N.lora_a` / `N.lora_b` pair read back with gguf.GGUFReader, the delta is
alpha / r * B @ A (r from the tensor, alpha from `adapter.lora.alpha`), its rows are put
back in HF order, and base + delta is compared with PEFT's merge_and_unload() of the
original adapter, weight by weight. Weights the file does not adapt must come out of
PEFT's merge unchanged, and every pair in the file must adapt a weight of the base.

The tolerance is the rounding the file may add, element by element. Storing A and B with
unit roundoff u (2^-11 for F16, 2^-24 for F32) perturbs each product term by at most
(2u + u^2) |B_ik| |A_kj|; both sides compute the rank-r sum in float32 (r eps32 each) and
add it to W in float32 (eps32 |W|). So with s the scale,

    |rebuilt - merged| <= s (|B| @ |A|) (2u + u^2 + 2 r eps32) + 2 eps32 (|W| + |W_merged|)

and the check reports the worst ratio of the two sides, which must be at most 1.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tuneforge.export.errors import ExportError, ParityError
from tuneforge.export.gguf_adapter import llama_cpp_scale
from tuneforge.export.llama_layout import LlamaLayout, require_gguf

EPS32 = float(np.finfo(np.float32).eps) / 2  # float32 unit roundoff
SLACK = 1.01  # |B~| @ |A~| stands in for |B| @ |A|: they differ by (1 + u)^2 at most


@dataclass
class ModuleParity:
    tensor: str
    rank: int
    max_abs_diff: float
    error_to_bound: float


@dataclass
class AdapterParityReport:
    """The numbers of one adapter check; `to_dict()` is what parity.json holds."""

    adapter: str
    base: str
    export: str
    alpha: float
    rule: str
    passed: bool
    max_abs_diff: float
    worst_error_to_bound: float
    untouched_weights_unchanged: bool
    seconds: float
    modules: list[ModuleParity] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, path: Path) -> Path:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)


def check_adapter_parity(
    adapter_folder: Path, base_folder: Path, gguf_adapter: Path
) -> AdapterParityReport:
    """Compare the adapter GGUF with PEFT's merge of `adapter_folder` into `base_folder`;
    raise ParityError if any weight differs by more than the file's rounding allows."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    started = time.monotonic()
    layout = LlamaLayout.read(Path(base_folder))
    alpha, pairs = read_adapter_gguf(Path(gguf_adapter))
    model = AutoModelForCausalLM.from_pretrained(base_folder, dtype=torch.float32)
    base = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    merged = PeftModel.from_pretrained(model, adapter_folder).merge_and_unload().state_dict()

    modules, untouched_same = [], True
    for name, weight in base.items():
        gguf_name = _gguf_name_or_none(layout, name)
        pair = pairs.pop(gguf_name, None) if gguf_name else None
        if pair is None:
            if name in merged:
                untouched_same &= torch.equal(merged[name], weight)
            continue
        modules.append(_compare(layout, name, gguf_name, weight, merged[name], alpha, *pair))
    report = AdapterParityReport(
        adapter=str(adapter_folder),
        base=str(base_folder),
        export=str(gguf_adapter),
        alpha=alpha,
        rule="every adapted weight within the file's rounding bound (error/bound <= 1), "
        "every other weight unchanged by PEFT's merge, every pair in the file used",
        passed=False,
        max_abs_diff=max((m.max_abs_diff for m in modules), default=0.0),
        worst_error_to_bound=max((m.error_to_bound for m in modules), default=0.0),
        untouched_weights_unchanged=untouched_same,
        seconds=round(time.monotonic() - started, 2),
        modules=modules,
    )
    report.passed = bool(modules) and report.worst_error_to_bound <= 1.0
    report.passed = report.passed and untouched_same and not pairs
    if not report.passed:
        unused = f", pairs adapting no base weight: {sorted(pairs)}" if pairs else ""
        raise ParityError(
            f"{gguf_adapter}: adapter parity check failed: worst error/bound "
            f"{report.worst_error_to_bound:.3g}, max |diff| {report.max_abs_diff:.3g}, "
            f"other weights unchanged {untouched_same}{unused}",
            report.to_dict(),
        )
    return report


def read_adapter_gguf(path: Path) -> tuple[float, dict[str, tuple[np.ndarray, np.ndarray, float]]]:
    """(alpha, {GGUF weight name: (A, B, unit roundoff of their storage)}) from the file."""
    gguf = require_gguf()
    reader = gguf.GGUFReader(path)
    fields = {key: value.contents() for key, value in reader.fields.items() if key[:5] != "GGUF."}
    if fields.get("general.type") != "adapter" or fields.get("adapter.type") != "lora":
        raise ParityError(f"{path}: not a LoRA adapter GGUF (general.type, adapter.type)", fields)
    tensors = {t.name: t for t in reader.tensors}
    pairs = {}
    for name in tensors:
        if name.endswith(".lora_a"):
            target = name.removesuffix(".lora_a")
            a, b = tensors[name], tensors[target + ".lora_b"]
            roundoff = _roundoff(gguf, a.tensor_type, b.tensor_type)
            pairs[target] = (_values(gguf, a), _values(gguf, b), roundoff)
    return float(fields["adapter.lora.alpha"]), pairs


def _compare(layout, name, gguf_name, weight, merged, alpha, lora_a, lora_b, u) -> ModuleParity:
    a, b = torch.from_numpy(lora_a), torch.from_numpy(lora_b)  # (r, in), (out, r)
    rank = a.shape[0]
    scale = llama_cpp_scale(alpha, rank)
    # Rebuilt in llama.cpp's row order, then put back in HF's, as the base weights are.
    delta = layout.to_hf_rows(name, scale * (b @ a))
    magnitude = layout.to_hf_rows(name, scale * (b.abs() @ a.abs()))
    bound = magnitude * (SLACK * (2 * u + u * u) + 2 * rank * EPS32)
    bound += 2 * EPS32 * (weight.abs() + merged.abs()) + 1e-30
    diff = (weight + delta - merged).abs()
    return ModuleParity(
        tensor=gguf_name,
        rank=rank,
        max_abs_diff=diff.max().item(),
        error_to_bound=(diff / bound).max().item(),
    )


def _gguf_name_or_none(layout: LlamaLayout, name: str) -> str | None:
    if layout.is_tied_head(name):
        return None
    try:
        return layout.gguf_name(name)
    except ExportError:  # a tensor llama.cpp has no name for: no adapter pair can target it
        return None


def _values(gguf, tensor) -> np.ndarray:
    """A tensor's values as float32, in numpy (rows, columns) order."""
    shape = tuple(int(n) for n in reversed(tensor.shape))
    values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
    return np.array(values.reshape(shape), dtype=np.float32)  # a writable copy


def _roundoff(gguf, *types) -> float:
    known = {gguf.GGMLQuantizationType.F32: 2.0**-24, gguf.GGMLQuantizationType.F16: 2.0**-11}
    if any(t not in known for t in types):
        raise ParityError(f"LoRA tensors stored as {[t.name for t in types]}: F16 or F32 only", {})
    return max(known[t] for t in types)
