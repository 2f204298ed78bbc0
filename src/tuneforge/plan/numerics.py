"""How a run stores and computes its numbers: bytes per weight, per activation and per
trained parameter, resolved from the run config the way training resolves them.

What training does (models/loading.py, models/adapters.py, train/setup.py):

- `model.dtype: auto` loads bf16 weights on a GPU and float32 on a CPU.
- `train.mixed_precision: auto` is bf16 autocast on a GPU; on a CPU it depends on the
  processor (models/precision.py probes it), so the caller says (`cpu_bf16`); float32,
  the larger, is assumed when it does not.
- Full fine-tuning trains the loaded weights in their own dtype: bf16 weights get bf16
  gradients and bf16 AdamW states (torch's AdamW keeps states like its parameters), and
  no float32 master copy exists.
- Adapter parameters are float32 whatever the base (PEFT's autocast_adapter_dtype).
- QLoRA loads every decoder Linear as NF4 and then PEFT's prepare_model_for_kbit_training
  casts every other weight (embeddings, norms, the head) to float32; the 4-bit layers
  return their input's dtype, so the residual stream and the MLP's activations are
  float32, and only what autocast casts (attention, LoRA matmuls, the head) is bf16.
- An adapter run under bf16 autocast stores the frozen Linear weights in bf16
  (train/setup.store_frozen_linears_in_bf16), except DoRA, QLoRA and the methods that
  generate (grpo, ppo).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from tuneforge.config import RunConfig

Device = Literal["cpu", "cuda"]

NF4_BLOCK = 64
"""Weights per first-level absmax in bitsandbytes' 4-bit quantisation."""
NF4_BLOCK2 = 256
"""First-level absmax values per second-level (float32) absmax with double quantisation."""
NF4_BYTES_PER_PARAM = 0.5 + 1 / NF4_BLOCK + 4 / (NF4_BLOCK * NF4_BLOCK2)
"""NF4 with double quantisation (Dettmers et al. 2023, QLoRA, section 3): 4 bits per
weight (0.5 byte); each block of 64 weights has an absmax, quantised to 8 bits (1/64
byte per weight); each 256 such absmax values share one float32 constant
(4/(64*256) byte per weight). 0.5 + 0.015625 + 0.000244 = 0.515869 bytes, 4.127 bits.
Per-tensor constants (the NF4 code, the 8-bit map, an offset: about 1 kB a layer) are
left out."""

WEIGHT_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
GENERATING_METHODS = frozenset({"grpo", "ppo"})
"""Methods that sample with transformers' generate outside autocast, so their frozen
weights stay float32 (train/setup.store_frozen_linears_in_bf16)."""


@dataclass(frozen=True)
class Numerics:
    """Bytes per element of each kind of tensor a run holds."""

    weight: int
    """A floating-point weight as loaded (model.dtype)."""
    autocast: bool
    """Matmuls run under bf16/fp16 autocast."""
    compute: int
    """A matmul's output (and a LoRA branch's, and the logits before float32)."""
    stream: int
    """The residual stream and norm outputs: the dtype of the embeddings."""
    attention: int
    """Queries, keys, values and the attention output as SDPA keeps them."""
    mlp: int
    """The SwiGLU intermediates (gate, up, their product)."""
    frozen_linear: float
    """A frozen decoder Linear weight as stored (NF4 for QLoRA)."""
    trained: int
    """A trainable parameter, its gradient, and each AdamW state."""


def resolve_numerics(cfg: RunConfig, device: Device, cpu_bf16: bool = False) -> Numerics:
    """The Numerics of `cfg` run on `device`; `cpu_bf16`: what `mixed_precision: auto`
    finds on the CPU that will train (models.precision.auto_precision().bf16)."""
    dtype, mixed = cfg.model.dtype, cfg.train.mixed_precision
    weight = WEIGHT_BYTES[dtype] if dtype != "auto" else (2 if device == "cuda" else 4)
    if mixed == "auto":
        mixed = "bf16" if device == "cuda" or cpu_bf16 else "no"
    autocast = mixed != "no"
    compute = 2 if autocast or weight == 2 else 4
    adapter = cfg.adapter.type
    trained = weight if adapter == "full" else 4
    if adapter == "qlora":
        return Numerics(
            weight, autocast, compute, stream=4, attention=2 if autocast else 4, mlp=4,
            frozen_linear=NF4_BYTES_PER_PARAM, trained=trained,
        )  # fmt: skip
    frozen = weight
    if stores_frozen_linears_in_bf16(cfg, mixed):
        frozen = 2
    return Numerics(weight, autocast, compute, weight, compute, compute, frozen, trained)


def stores_frozen_linears_in_bf16(cfg: RunConfig, mixed: str) -> bool:
    """train/setup.store_frozen_linears_in_bf16's rule, for a resolved mixed precision."""
    from tuneforge.train.setup import BF16_FROZEN_ADAPTERS

    return (
        mixed == "bf16"
        and cfg.adapter.type in BF16_FROZEN_ADAPTERS
        and cfg.method.name not in GENERATING_METHODS
    )
