"""Peak memory of a training run, per device, from its config, the model's shape and the
data's token lengths, before anything is loaded.

A run's memory is a sum of parts (each a small function below, its formula in its
docstring), but not every part is alive at every moment. The estimate sums the parts of
each phase and reports the largest:

- training: the start of a backward pass, where the forward pass has kept everything:
  weights, trainable, gradients, optimizer, activations, logits, reference, value_head,
  rollouts, anchors, overhead, and on CPU the heap's retained holes (allocator).
  Gradients and AdamW states exist from the first step on (the loop zeroes gradients
  without freeing them).
- optimizer_step: activations are gone, and the step allocates temporaries: weights,
  trainable, gradients, optimizer (states + temporaries), reference, value_head,
  rollouts, anchors, overhead.
- reference_precompute (dpo, kto with precompute_reference): before the first step, the
  reference's log-probabilities in inference passes: no gradients or optimizer states yet.
- generation (grpo, ppo): sampling with a KV cache and scoring the samples, no graph.

`MemoryEstimate.parts` are the parts of the peak phase, so they sum to `peak_bytes`.
Not counted: fragmentation on CUDA and outside the training phase, the transient
gradients of a backward pass, inference activations of no-grad passes (one layer at a
time), a reward model (grpo, ppo with method.reward_model), the EWC Fisher pass before
training, the data and tokenizer (CPU).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Literal

from tuneforge.config import RunConfig
from tuneforge.plan.activations import (
    ForwardPass,
    activation_bytes,
    logits_bytes,
    logits_forward_per_entry,
)
from tuneforge.plan.architecture import Architecture
from tuneforge.plan.numerics import NF4_BYTES_PER_PARAM, Device, Numerics, resolve_numerics
from tuneforge.plan.passes import batch_size, candidate_passes
from tuneforge.plan.trainable import trainable_tensors

PARTS = (
    "weights", "trainable", "gradients", "optimizer", "activations", "logits", "reference",
    "value_head", "rollouts", "anchors", "allocator", "overhead",
)  # fmt: skip

CUDA_OVERHEAD = 500 * 2**20
"""The CUDA context, cuBLAS workspaces and kernels loaded: ~500 MiB on recent GPUs, held
outside PyTorch's allocator (nvidia-smi shows it; max_memory_allocated does not)."""
CPU_OVERHEAD = 430 * 2**20
"""The process before any model: `python -c "import torch, transformers, peft"` peaked at
427 MiB RSS on the development machine (torch 2.13 CPU, transformers 5.24, peft 0.21)."""
CPU_HEAP_RETENTION = 0.41
"""On CPU every tensor is a malloc'd block, and glibc keeps what a pass frees as holes in
its heap that later passes, allocating in a different order, cannot all reuse: at the
start of a LoRA backward pass at 1024 tokens, mallinfo2 counted 994 MiB free inside the
heap beside 1970 MiB in use, all of it resident. Measured, not derived: the median, over
five runs at max_length 512 (full, LoRA, QLoRA, DPO full and LoRA, SmolLM2-135M,
benchmarks/plan_memory.py), of (peak RSS - the estimate without it) / (activations +
logits) was 0.41 (0.26 to 0.75). The table in docs/benchmarks.md checks it at 256 and 1024."""
CPU_FORWARD_TOKENS = 512
"""train.max_tokens_per_forward `auto` on a CPU (train/setup.py); no split on a GPU."""
BNB_BLOCK = 256
"""bitsandbytes' 8-bit optimizers quantise states in blocks of 256 with a float32 absmax."""
BNB_MIN_8BIT = 4096
"""bitsandbytes keeps 32-bit states for tensors with fewer elements than this."""

Optimizer = Literal["adamw", "adamw_8bit"]
DEVICES: dict[str, Device] = {"cpu": "cpu", "cuda": "cuda"}


@dataclass(frozen=True)
class MemoryEstimate:
    peak_bytes: int
    parts: dict[str, int]
    """The parts alive in the peak phase, by PARTS name; they sum to peak_bytes."""
    phase: str
    phases: dict[str, int] = field(default_factory=dict)
    """Each phase's total, so a reader sees how close the others come."""
    forward_pass: ForwardPass | None = None
    """The largest forward pass the data makes."""

    def as_dict(self) -> dict:
        return asdict(self)


def weight_bytes(arch: Architecture, num: Numerics, adapter: str, scalar_head: bool = False) -> int:
    """The base model as stored. Full fine-tuning: every parameter x the weight dtype.
    QLoRA: decoder Linear weights x NF4_BYTES_PER_PARAM, everything else (embeddings,
    norms, biases, head) x 4 (prepare_model_for_kbit_training casts it to float32).
    Other adapters: decoder Linear weights and biases x frozen_linear (2 when stored in
    bf16), an untied head likewise, the rest x the weight dtype. A reward model has a
    hidden x 1 score head instead of the LM head."""
    linear, bias = arch.linear_weights(), arch.linear_biases()
    head = arch.hidden if scalar_head else arch.lm_head
    rest = arch.total - linear - bias - arch.lm_head
    if adapter == "full":
        return (linear + bias + head + rest) * num.weight
    if adapter == "qlora":
        return math.ceil(linear * NF4_BYTES_PER_PARAM) + (bias + head + rest) * 4
    frozen = num.frozen_linear
    return math.ceil((linear + bias + head) * frozen) + rest * num.weight


def optimizer_state_bytes(sizes: list[int], dtype_bytes: int, optimizer: Optimizer) -> int:
    """AdamW's two moment estimates per trained element. torch's AdamW: 2 x the
    parameter's bytes (8 for float32, 4 for bf16 parameters). 8-bit AdamW (bitsandbytes,
    blockwise): 2 x (1 + 4/256) bytes for tensors of 4096 elements or more, 2 x 4 for
    smaller ones. TuneForge runs torch's AdamW (train/setup.make_optimizer); 8-bit is
    here for comparison."""
    if optimizer == "adamw":
        return 2 * dtype_bytes * sum(sizes)
    big = sum(n for n in sizes if n >= BNB_MIN_8BIT)
    return math.ceil(2 * big * (1 + 4 / BNB_BLOCK)) + 8 * (sum(sizes) - big)


def optimizer_step_bytes(
    sizes: list[int], dtype_bytes: int, device: Device, optimizer: Optimizer
) -> int:
    """Temporaries of one AdamW step. On CUDA torch uses its foreach kernels, whose
    sqrt(v) is one list of tensors as large as all parameters; on CPU the step goes
    tensor by tensor (sqrt(v) and its quotient: 2 x the largest tensor). bitsandbytes
    updates in place."""
    if optimizer != "adamw" or not sizes:
        return 0
    return dtype_bytes * (sum(sizes) if device == "cuda" else 2 * max(sizes))


def needs_reference(cfg: RunConfig) -> bool:
    method = cfg.method
    if method.name == "dpo":
        return method.loss != "reference_free"
    if method.name in ("grpo", "ppo"):
        return method.beta > 0
    return method.name == "kto"


def precomputed(cfg: RunConfig) -> bool:
    return needs_reference(cfg) and getattr(cfg.method, "precompute_reference", False)


def reference_copy_bytes(arch: Architecture, num: Numerics, cfg: RunConfig) -> int:
    """A frozen copy of the model's weights: only full fine-tuning keeps one (an adapter's
    reference is the same model with the adapter switched off), and only while
    training when its log-probabilities are not precomputed (train/reference.py)."""
    if cfg.adapter.type != "full" or not needs_reference(cfg) or precomputed(cfg):
        return 0
    return weight_bytes(arch, num, "full")


def reference_pass_bytes(arch: Architecture, num: Numerics, cfg: RunConfig, p: ForwardPass) -> int:
    """What the loop's no-grad forward passes (the reference's, KTO's twins') add over
    the loss's own peak. At that moment the policy keeps its float32 log-softmax (4 per
    entry) and the no-grad pass holds its logits (logits_forward_per_entry, without
    entropy) for its sequences: the batch's (dpo), examples and twins (kto)."""
    name = cfg.method.name
    if name not in ("dpo", "kto") or not needs_reference(cfg):
        return 0
    forward = logits_forward_per_entry(num, entropy=False)
    ref = 0 if precomputed(cfg) else (2 if name == "kto" else 1) * p.trained
    twins = p.trained if name == "kto" else 0
    moment = (4 * p.trained + forward * max(ref, twins)) * arch.vocab
    return max(0, moment - logits_bytes(arch, num, p))


def value_head_bytes(arch: Architecture, num: Numerics, p: ForwardPass | None) -> int:
    """PPO's critic, Linear(hidden, 1) in float32: (hidden + 1) x (4 weight + 4 gradient
    + 8 AdamW), plus its input at the trained positions (trained x hidden, compute dtype)
    during a training pass."""
    kept = p.trained * arch.hidden * num.compute if p is not None else 0
    return 16 * (arch.hidden + 1) + kept


def rollout_bytes(cfg: RunConfig, rows: int, width: int) -> int:
    """One batch of rollouts: token ids, targets, attention mask and positions (int64,
    32 bytes per token), and float32 per sampled token: old log-probs and reference
    log-probs, with PPO's values, returns and advantages (5 x 4), GRPO's 2 x 4."""
    method = cfg.method
    per_token = 5 * 4 if method.name == "ppo" else 2 * 4
    return rows * width * 32 + rows * method.max_new_tokens * per_token


def kv_cache_bytes(arch: Architecture, num: Numerics, rows: int, context: int) -> int:
    """Sampling rows completions to `context` tokens: rows x context x layers x 2 x
    kv_dim in the stream dtype (generate runs outside autocast)."""
    return rows * context * arch.layers * 2 * arch.kv_dim * num.stream


def anchor_bytes(cfg: RunConfig, trained_elements: int) -> int:
    """train.l2_to_start and train.ewc keep float32 starting values of the trained
    weights (4 bytes each), EWC also their Fisher information (4 more)."""
    if cfg.train.ewc is not None:
        return 8 * trained_elements
    return 4 * trained_elements if cfg.train.l2_to_start > 0 else 0


def forward_budget(cfg: RunConfig, device: Device) -> int | None:
    setting = cfg.train.max_tokens_per_forward
    if setting == "auto":
        return CPU_FORWARD_TOKENS if device == "cpu" else None
    return setting


def estimate(
    arch: Architecture,
    cfg: RunConfig,
    lengths: list[int],
    device: str,
    *,
    trained: list[int] | None = None,
    cpu_bf16: bool = False,
    optimizer: Optimizer = "adamw",
) -> MemoryEstimate:
    """Peak memory of training `cfg` on one `device` ("cpu" or "cuda").

    lengths: tokens per example as the method batches them (plan/passes.py: a pair's
    longer sequence; a prompt's tokens for grpo/ppo); trained: trained tokens per example
    (a pair's two replies together), default every token; cpu_bf16: what
    `mixed_precision: auto` finds on the CPU that trains; optimizer: adamw (what
    TuneForge runs) or adamw_8bit (for comparison)."""
    if device not in DEVICES:
        raise ValueError(f"device {device!r}: expected one of {', '.join(DEVICES)}")
    return _estimate(arch, cfg, lengths, DEVICES[device], trained, cpu_bf16, optimizer)


def _estimate(
    arch: Architecture, cfg: RunConfig, lengths: list[int], device: Device,
    trained: list[int] | None, cpu_bf16: bool, optimizer: Optimizer,
) -> MemoryEstimate:  # fmt: skip
    num = resolve_numerics(cfg, device, cpu_bf16)
    sizes = trainable_tensors(arch, cfg.adapter, scalar_head=cfg.method.name == "reward")
    held = held_parts(arch, num, cfg, device, sizes, optimizer)
    if cfg.method.name in ("grpo", "ppo"):
        held |= online_held_parts(arch, num, cfg, lengths)
    budget = forward_budget(cfg, device)
    passes = candidate_passes(cfg, lengths, trained, budget)
    p, training = max(
        ((p, training_parts(arch, num, cfg, device, p, budget)) for p in passes),
        key=lambda item: sum(item[1].values()),
    )
    step = optimizer_step_bytes(sizes, num.trained, device, optimizer)
    phases = {
        "training": held | training,
        "optimizer_step": held | {"optimizer": held["optimizer"] + step},
    }
    if cfg.method.name in ("grpo", "ppo"):
        phases["generation"] = held | generation_parts(arch, num, cfg, lengths)
    if precomputed(cfg):
        before = {k: held[k] for k in ("weights", "trainable", "overhead")}
        phases["reference_precompute"] = before | precompute_parts(arch, num, cfg, p)
    totals = {name: sum(parts.values()) for name, parts in phases.items()}
    peak = max(totals, key=lambda name: totals[name])
    parts = {name: phases[peak].get(name, 0) for name in PARTS}
    return MemoryEstimate(totals[peak], parts, peak, totals, p)


def held_parts(
    arch: Architecture, num: Numerics, cfg: RunConfig, device: Device, sizes: list[int],
    optimizer: Optimizer,
) -> dict[str, int]:  # fmt: skip
    """The parts alive through the whole of training (once the first step has run)."""
    elements = sum(sizes)
    return {
        "weights": weight_bytes(arch, num, cfg.adapter.type, cfg.method.name == "reward"),
        "trainable": 0 if cfg.adapter.type == "full" else 4 * elements,
        "gradients": num.trained * elements,
        "optimizer": optimizer_state_bytes(sizes, num.trained, optimizer),
        "reference": reference_copy_bytes(arch, num, cfg),
        "anchors": anchor_bytes(cfg, elements),
        "overhead": CUDA_OVERHEAD if device == "cuda" else CPU_OVERHEAD,
    }


def online_held_parts(
    arch: Architecture, num: Numerics, cfg: RunConfig, lengths: list[int]
) -> dict[str, int]:
    """GRPO and PPO hold one batch of rollouts (batch_size prompts x num_generations,
    to the longest prompt plus max_new_tokens), PPO its value head."""
    rows, context = sampled_shape(cfg, lengths)
    held = {"rollouts": rollout_bytes(cfg, rows, context)}
    if cfg.method.name == "ppo":
        held["value_head"] = value_head_bytes(arch, num, None)
    return held


def sampled_shape(cfg: RunConfig, lengths: list[int]) -> tuple[int, int]:
    """(rows, tokens per row) of a rollout batch."""
    rows = batch_size(cfg, len(lengths)) * getattr(cfg.method, "num_generations", 1)
    return rows, max(lengths) + cfg.method.max_new_tokens


def training_parts(
    arch: Architecture, num: Numerics, cfg: RunConfig, device: Device, p: ForwardPass,
    budget: int | None,
) -> dict[str, int]:  # fmt: skip
    """The pass-dependent parts of the training phase for pass `p`. Replay without a
    split (budget None) runs its examples in the same pass: ratio more tokens kept."""
    kind, name = cfg.adapter.type, cfg.method.name
    scalar_head = name == "reward"
    activations = activation_bytes(
        arch, num, cfg.adapter, device, p, cfg.model.gradient_checkpointing, scalar_head
    )
    logits = logits_bytes(
        arch, num, p,
        direct_head=kind not in ("prompt_tuning", "prefix_tuning"),
        entropy=name in ("grpo", "ppo"),
        head_trains=kind == "full",
        scalar_head=scalar_head,
    )  # fmt: skip
    if cfg.data.replay is not None and budget is None:
        scale = 1 + cfg.data.replay.ratio
        activations, logits = int(activations * scale), int(logits * scale)
    parts = {
        "activations": activations,
        "logits": logits,
        "reference": reference_copy_bytes(arch, num, cfg) + reference_pass_bytes(arch, num, cfg, p),
        "allocator": heap_retention_bytes(device, activations + logits),
    }
    if name == "ppo":
        parts["value_head"] = value_head_bytes(arch, num, p)
    return parts


def heap_retention_bytes(device: Device, freed_per_pass: int) -> int:
    """CPU only: CPU_HEAP_RETENTION x what a training pass allocates and frees again
    (its activations and logits), the holes glibc's heap keeps resident. On CUDA
    PyTorch's caching allocator reuses blocks by size, and max_memory_allocated, which
    the GPU check compares with, counts live tensors only."""
    return round(CPU_HEAP_RETENTION * freed_per_pass) if device == "cpu" else 0


def generation_parts(
    arch: Architecture, num: Numerics, cfg: RunConfig, lengths: list[int]
) -> dict[str, int]:
    """Sampling a rollout batch: its KV cache (activations) and one step's logits
    (rows x vocab x 12: the head's output, its float32 copy, the sampling
    probabilities); then scoring it without a graph in one pass (the policy's old
    log-probs, PPO's values, the reference's): sampled tokens x vocab x the forward's
    bytes per entry. The larger of the two logits terms counts."""
    rows, context = sampled_shape(cfg, lengths)
    sampled = rows * cfg.method.max_new_tokens
    scoring = sampled * arch.vocab * logits_forward_per_entry(num, entropy=False)
    return {
        "activations": kv_cache_bytes(arch, num, rows, context),
        "logits": max(rows * arch.vocab * 12, scoring),
    }


def precompute_parts(
    arch: Architecture, num: Numerics, cfg: RunConfig, p: ForwardPass
) -> dict[str, int]:
    """Reference log-probabilities computed before training, in the training's pass
    sizes over both sequences: the frozen copy (full fine-tuning) and the pass's
    logits; no gradients, optimizer states or anchors exist yet."""
    copy = weight_bytes(arch, num, "full") if cfg.adapter.type == "full" else 0
    sequences = 2 if cfg.method.name == "kto" else 1
    forward = logits_forward_per_entry(num, entropy=False)
    return {"reference": copy, "logits": sequences * p.trained * arch.vocab * forward}
