"""The parameters an adapter trains, as PEFT builds them (models/adapters.py), counted
from the model's Linear layers: a list of tensor sizes, so per-tensor rules (8-bit
optimizer states, a CPU optimizer's temporaries) can be applied.

Per targeted Linear of in x out features (count: one per decoder layer):

- LoRA, QLoRA: A is r x in, B is out x r: r (in + out).
- DoRA: LoRA's, plus a magnitude vector of out.
- IA3: one scaling vector: of in for feed-forward modules (it scales their input),
  of out for the others (it scales their output). With target_modules 'all-linear'
  TuneForge lets PEFT choose by architecture: llama and mistral k_proj, v_proj and
  down_proj (feed-forward: down_proj); qwen2 q_proj, v_proj, down_proj.
- Prompt tuning: num_virtual_tokens x hidden (the virtual token embeddings).
- Prefix tuning: num_virtual_tokens x layers x 2 x kv_dim (a key and a value per layer
  and virtual token, PEFT's PrefixEncoder without projection, at the width of the
  key/value heads).
- Full fine-tuning: every parameter.

'all-linear' means every Linear but the output head, as PEFT's LoRA does. A reward
model (scalar head) trains its score head, hidden x 1, in full with the adapter.
"""

from __future__ import annotations

from tuneforge.config import AdapterConfig
from tuneforge.errors import ConfigError
from tuneforge.plan.architecture import Architecture, Linear

LORA_FAMILY = frozenset({"lora", "qlora", "dora"})


def targeted(arch: Architecture, target_modules: str | list[str]) -> list[Linear]:
    """The Linear layers an adapter wraps: 'all-linear' (all but the head), or those
    matching any of the names or path suffixes given."""
    if target_modules == "all-linear":
        return arch.decoder_linears()
    targets = [target_modules] if isinstance(target_modules, str) else target_modules
    found = [lin for lin in arch.linears if any(lin.matches(t) for t in targets)]
    if not found:
        names = sorted({lin.name for lin in arch.linears})
        raise ConfigError(
            f"adapter.target_modules: {targets} match no Linear layer of this "
            f"{arch.model_type} model; its Linear layers are {names}"
        )
    return found


def lora_tensors(linear: Linear, r: int, dora: bool) -> list[int]:
    """One module's adapter tensors: A (r x in), B (out x r), DoRA's magnitude (out)."""
    sizes = [r * linear.in_features, linear.out_features * r]
    return sizes + [linear.out_features] if dora else sizes


def ia3_targets(arch: Architecture, adapter: AdapterConfig) -> tuple[list[Linear], set[str]]:
    """(targeted layers, names of the feed-forward ones among them), as _ia3 in
    models/adapters.py configures PEFT."""
    if adapter.target_modules != "all-linear":
        return targeted(arch, adapter.target_modules), set()
    from peft.utils.constants import (
        TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING as FEEDFORWARD,
    )
    from peft.utils.constants import (
        TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING as TARGETS,
    )

    if arch.model_type not in TARGETS:
        raise ConfigError(
            f"adapter.type ia3 with target_modules 'all-linear': PEFT has no default IA3 "
            f"targets for model type {arch.model_type!r}; list them, e.g. "
            "adapter.target_modules=[k_proj,v_proj]"
        )
    return targeted(arch, TARGETS[arch.model_type]), set(FEEDFORWARD[arch.model_type])


def ia3_tensors(arch: Architecture, adapter: AdapterConfig) -> list[int]:
    layers, feedforward = ia3_targets(arch, adapter)
    return [
        lin.in_features if lin.name in feedforward else lin.out_features
        for lin in layers
        for _ in range(lin.count)
    ]


def full_tensors(arch: Architecture, scalar_head: bool) -> list[int]:
    sizes = [size for size, count in arch.tensor_sizes for _ in range(count)]
    head = arch.head()
    if scalar_head and head is not None and not arch.tied_embeddings:
        sizes.remove(head.weight_numel)
    return sizes + [arch.hidden] if scalar_head else sizes


def trainable_tensors(
    arch: Architecture, adapter: AdapterConfig, scalar_head: bool = False
) -> list[int]:
    """Element counts of every tensor the optimizer updates (the score head of a reward
    model included; PPO's value head is the method's own: plan/memory.py)."""
    kind = adapter.type
    if kind == "full":
        return full_tensors(arch, scalar_head)
    if kind in LORA_FAMILY:
        sizes = [
            size
            for lin in targeted(arch, adapter.target_modules)
            for _ in range(lin.count)
            for size in lora_tensors(lin, adapter.r, dora=kind == "dora")
        ]
    elif kind == "ia3":
        sizes = ia3_tensors(arch, adapter)
    elif kind == "prompt_tuning":
        sizes = [adapter.num_virtual_tokens * arch.hidden]
    else:  # prefix_tuning
        sizes = [adapter.num_virtual_tokens * arch.layers * 2 * arch.kv_dim]
    return sizes + [arch.hidden] if scalar_head else sizes
