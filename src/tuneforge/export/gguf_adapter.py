"""A PEFT LoRA adapter as a llama.cpp LoRA adapter GGUF (`llama-cli --lora`, Ollama `ADAPTER`).

The conventions are those of llama.cpp's convert_lora_to_gguf.py, which llama.cpp's loader
(llama-adapter.cpp) expects:

- metadata: `general.architecture` of the base (llama), `general.type = "adapter"`,
  `adapter.type = "lora"`, `adapter.lora.alpha` (float);
- for each adapted weight `W` (out x in) with GGUF name `N`: `N.lora_a` holding PEFT's
  lora_A (r x in) and `N.lora_b` holding lora_B (out x r), both as PEFT stores them, so
  llama.cpp computes W x + scale * B (A x) with scale = alpha / r (r read from the tensor);
- lora_B of q_proj / k_proj gets the base weights' Q/K row permutation (llama_layout.py),
  since B alone decides the rows of B @ A; lora_A needs none.

llama.cpp knows one alpha per file and the plain alpha / r scale. PEFT can scale a module
otherwise (rank_pattern, alpha_pattern, rsLoRA's alpha / sqrt(r)); the ratio between
PEFT's scale and llama.cpp's is folded into that module's lora_B, so every module's delta
comes out as PEFT computes it. Anything that is not a plain low-rank delta on a linear
weight (DoRA, IA3, prompt or prefix tuning, LoRA biases, trained embeddings or heads,
modules_to_save) has no place in the format and is refused: merge it into the model and
export the merged model instead.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch

from tuneforge.export.errors import ExportError
from tuneforge.export.gguf_stream import PlannedTensor, storage_type, write_streamed
from tuneforge.export.llama_layout import LlamaLayout, require_gguf

ADAPTER_WEIGHTS = "adapter_model.safetensors"
PEFT_PREFIX = "base_model.model."
LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<which>[AB])\.weight$")
MERGE_FIRST = "Merge the adapter into the model and export the merged model instead."
# LoraConfig fields that change the forward pass beyond W + scale * B @ A when set.
NOT_PLAIN = (
    "use_dora",
    "lora_bias",
    "fan_in_fan_out",
    "modules_to_save",
    "trainable_token_indices",
    "layer_replication",
    "target_parameters",
    "alora_invocation_tokens",
    "use_qalora",
    "use_bdlora",
    "kasa_config",
    "velora_config",
    "monteclora_config",
    "arrow_config",
)


@dataclass(frozen=True)
class LoraModule:
    """One adapted weight: where its A and B are, and the scale PEFT applies to B @ A."""

    base_name: str
    """The base weight it adapts, by HF name (`model.layers.0.self_attn.q_proj.weight`)."""
    key_a: str
    key_b: str
    shape_a: tuple[int, ...]
    """(r, in)"""
    shape_b: tuple[int, ...]
    """(out, r)"""
    peft_scale: float

    @property
    def rank(self) -> int:
        return self.shape_a[0]


def read_lora_config(adapter_folder: Path) -> dict[str, Any]:
    """adapter_config.json, checked to be a LoRA that llama.cpp can apply as it is."""
    path = Path(adapter_folder) / "adapter_config.json"
    if not path.is_file():
        raise ExportError(f"{adapter_folder}: not a PEFT adapter folder (no adapter_config.json)")
    config = json.loads(path.read_text())
    kind = config.get("peft_type")
    if kind != "LORA":
        if kind in ("PROMPT_TUNING", "PREFIX_TUNING", "P_TUNING"):
            raise ExportError(
                f"{path}: a {kind} adapter adds virtual tokens, which neither llama.cpp nor a "
                "merged model can carry; export --format hf and serve it with TuneForge"
            )
        raise ExportError(
            f"{path}: peft_type {kind}; only plain LoRA adapters export as GGUF adapters. "
            f"{MERGE_FIRST}"
        )
    for field in NOT_PLAIN:
        if config.get(field):
            raise ExportError(
                f"{path}: {field} = {config[field]!r}; llama.cpp applies plain LoRA only "
                f"(W + alpha/r * B @ A). {MERGE_FIRST}"
            )
    if config.get("bias", "none") != "none":
        raise ExportError(
            f"{path}: bias = {config['bias']!r} (trained biases); llama.cpp adapters carry "
            f"lora_a and lora_b only. {MERGE_FIRST}"
        )
    return config


def lora_modules(
    adapter_folder: Path, config: dict[str, Any], layout: LlamaLayout
) -> list[LoraModule]:
    """Pair every lora_A with its lora_B; refuse any other tensor in the adapter."""
    from safetensors import safe_open

    path = Path(adapter_folder) / ADAPTER_WEIGHTS
    if not path.is_file():
        raise ExportError(
            f"{adapter_folder}: no {ADAPTER_WEIGHTS} (save the adapter as safetensors)"
        )
    pairs: dict[str, dict[str, str]] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    with safe_open(path, framework="pt") as handle:
        for key in sorted(handle.keys()):
            match = LORA_KEY.match(key)
            if match is None:
                raise ExportError(
                    f"{path}: tensor {key!r} is not a LoRA A/B matrix (a trained embedding, "
                    f"norm, magnitude vector or saved module). {MERGE_FIRST}"
                )
            pairs.setdefault(match["module"], {})[match["which"]] = key
            shapes[key] = tuple(handle.get_slice(key).get_shape())
    modules = []
    for module, keys in sorted(pairs.items()):
        if set(keys) != {"A", "B"}:
            raise ExportError(f"{path}: {module} has lora_{''.join(keys)} only")
        base_name = module.removeprefix(PEFT_PREFIX) + ".weight"
        if layout.is_tied_head(base_name):
            raise ExportError(
                f"{path}: the adapter trains lm_head, which this model ties to its embeddings; "
                f"llama.cpp cannot adapt a tied head. {MERGE_FIRST}"
            )
        shape_a, shape_b = shapes[keys["A"]], shapes[keys["B"]]
        scale = _peft_scale(config, module, shape_a[0])
        modules.append(LoraModule(base_name, keys["A"], keys["B"], shape_a, shape_b, scale))
    if not modules:
        raise ExportError(f"{path}: no LoRA tensors in it")
    return modules


def _peft_scale(config: dict[str, Any], module: str, rank: int) -> float:
    """The scale PEFT multiplies B @ A by in this module (LoraLayer.update_layer)."""
    alpha = config["lora_alpha"]
    for pattern, value in (config.get("alpha_pattern") or {}).items():
        if re.match(rf"(.*\.)?({pattern})$", module.removeprefix(PEFT_PREFIX)):
            alpha = value
            break
    return alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank


def llama_cpp_scale(alpha: float, rank: int) -> float:
    """What llama.cpp multiplies B @ A by (llama-adapter.cpp: no alpha means 1)."""
    return alpha / rank if alpha else 1.0


def write_gguf_lora(
    adapter_folder: Path,
    base_folder: Path,
    output: Path,
    *,
    dtype: Literal["f16", "f32"] = "f16",
    name: str | None = None,
) -> Path:
    """Write the LoRA adapter in `adapter_folder` (trained on the model in `base_folder`)
    as a llama.cpp adapter GGUF at `output`; return its path."""
    gguf = require_gguf()
    adapter_folder = Path(adapter_folder)
    config = read_lora_config(adapter_folder)
    layout = LlamaLayout.read(Path(base_folder))
    alpha = float(config["lora_alpha"])
    file_qtype, file_type = {
        "f16": (gguf.GGMLQuantizationType.F16, gguf.LlamaFileType.MOSTLY_F16),
        "f32": (gguf.GGMLQuantizationType.F32, gguf.LlamaFileType.ALL_F32),
    }[dtype]

    weights = adapter_folder / ADAPTER_WEIGHTS
    plan = []
    for module in lora_modules(adapter_folder, config, layout):
        target = layout.gguf_name(module.base_name)
        fold = module.peft_scale / llama_cpp_scale(alpha, module.rank)
        for suffix, shape, load in (
            (".lora_a", module.shape_a, partial(_read, weights, module.key_a)),
            (".lora_b", module.shape_b, partial(_read_b, weights, module, layout, fold)),
        ):
            qtype = storage_type(target + suffix, shape, file_qtype)
            plan.append(PlannedTensor(target + suffix, shape, qtype, load))

    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.LLAMA])
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    writer.add_name(name or adapter_folder.name)
    writer.add_file_type(file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    return write_streamed(writer, plan, output)


def _read(weights: Path, key: str) -> torch.Tensor:
    from safetensors import safe_open

    with safe_open(weights, framework="pt") as handle:
        return handle.get_tensor(key).float()


def _read_b(weights: Path, module: LoraModule, layout: LlamaLayout, fold: float) -> torch.Tensor:
    """lora_B (out, r) with any scale llama.cpp cannot express folded in; its rows are the
    base weight's rows, so they take the base weight's permutation."""
    return layout.to_gguf_rows(module.base_name, _read(weights, module.key_b) * fold)
