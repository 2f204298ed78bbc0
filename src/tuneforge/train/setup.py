"""Shared set-up pieces for recipes: data loading, optimizer, schedule, accelerator."""

from __future__ import annotations

import math
import random
import resource
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TypeVar

import torch

from tuneforge.config import RunConfig, TrainConfig
from tuneforge.data import TokenizedExample, TokenizeStats, read_examples, tokenize_examples
from tuneforge.errors import ConfigError, DataError
from tuneforge.models.loading import release_checkpoint_map
from tuneforge.models.precision import auto_precision

T = TypeVar("T")


@dataclass
class TrainingData:
    train: list[TokenizedExample]
    validation: list[TokenizedExample]
    stats: TokenizeStats


def load_training_data(cfg: RunConfig, tokenizer) -> TrainingData:
    """Read, validate and tokenize the train (and validation) files. Every data error
    surfaces here, before a run directory or a model exists."""
    examples, validation = train_and_validation(
        cfg, lambda path: read_examples(path, kind="sft", format=cfg.data.format), "train.jsonl"
    )
    data = cfg.data
    train, stats = tokenize_examples(
        examples, tokenizer, data.max_length, data.train, tool_format=data.tool_format
    )
    if not train:
        raise DataError(
            cfg.data.train, None, None,
            f"no example has a trained token within data.max_length={cfg.data.max_length} "
            f"({stats.dropped_no_target} dropped); raise data.max_length",
        )  # fmt: skip
    val, _ = tokenize_examples(
        validation, tokenizer, data.max_length, "validation", tool_format=data.tool_format
    )
    return TrainingData(train, val, stats)


def report_length_cuts(log, kept: int, dropped: int, truncated: int, max_length: int) -> None:
    """Say what data.max_length cost the training data, so a run never silently trains
    on a fraction of its file (the counts are in summary.json too)."""
    if dropped:
        log(
            f"warning: {dropped} of {kept + dropped} training records dropped: no reply "
            f"token fits in data.max_length={max_length} (raise it to keep them)"
        )
    if truncated:
        log(f"{truncated} sequences cut at data.max_length={max_length}")


def train_and_validation(
    cfg: RunConfig, read: Callable[[str], list[T]], example_file: str
) -> tuple[list[T], list[T]]:
    """The records of data.train and data.validation, or when no validation file is
    given, a seeded data.validation_split share of data.train held out (in file order)."""
    if cfg.data.train is None:
        raise ConfigError(
            f"data.train: missing: set the training data, e.g. data.train={example_file}"
        )
    examples = read(cfg.data.train)
    validation = read(cfg.data.validation) if cfg.data.validation else []
    if not validation and cfg.data.validation_split > 0:
        order = list(range(len(examples)))
        random.Random(cfg.train.seed).shuffle(order)
        held = set(order[: max(1, round(len(examples) * cfg.data.validation_split))])
        validation = [examples[i] for i in sorted(held)]
        examples = [ex for i, ex in enumerate(examples) if i not in held]
    return examples, validation


def make_optimizer(model, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW; weight decay only on matrices (not on biases, norms or 1-d adapter vectors)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr)


def make_scheduler(optimizer, cfg: TrainConfig, total_steps: int):
    from transformers import get_scheduler

    names = {"cosine": "cosine", "linear": "linear", "constant": "constant_with_warmup"}
    return get_scheduler(
        names[cfg.scheduler],
        optimizer,
        num_warmup_steps=math.ceil(cfg.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )


def mixed_precision(cfg: TrainConfig) -> tuple[str, str]:
    """(accelerate's mixed_precision for train.mixed_precision, and what that means and
    why, for the log)."""
    mixed, why = cfg.mixed_precision, "train.mixed_precision"
    if mixed == "auto":
        choice = auto_precision()
        mixed, why = ("bf16" if choice.bf16 else "no"), f"auto: {choice.reason}"
    said = {"no": "float32", "bf16": "bf16 autocast", "fp16": "fp16 autocast"}[mixed]
    return mixed, f"{said} ({why})"


def make_accelerator(cfg: TrainConfig):
    """accelerate places the model and runs distributed and fp16-scaled backward passes.
    bf16 autocast is ours (make_autocast): accelerate fixes one precision per process and
    refuses a later run in another (a notebook, the quickstart after a test, jobs
    in-process), while bf16 needs no loss scaling, only the context."""
    from accelerate import Accelerator

    mixed = "fp16" if mixed_precision(cfg)[0] == "fp16" else "no"
    return Accelerator(mixed_precision=mixed, cpu=not torch.cuda.is_available())


def make_autocast(cfg: TrainConfig, accelerator) -> Callable[[], AbstractContextManager]:
    """The context every training, validation and reference forward pass of a run uses."""
    if mixed_precision(cfg)[0] == "bf16":
        device = accelerator.device.type
        return lambda: torch.autocast(device, dtype=torch.bfloat16)
    return accelerator.autocast


BF16_FROZEN_ADAPTERS = frozenset({"lora", "ia3", "prompt_tuning", "prefix_tuning"})
"""Adapters that use the base model's Linear weights only in the matmuls autocast casts.
Not DoRA (peft's DoraLinearLayer takes the norm of the base weight in the input's dtype,
float32 at the first layers, which a bf16 weight changes), QLoRA (4-bit) or full
fine-tuning (every weight trains)."""


def store_frozen_linears_in_bf16(model, cfg: RunConfig, generates: bool) -> int:
    """Store the frozen weights of the model's nn.Linear layers in bf16 when the run
    trains an adapter in bf16 autocast; returns how many layers were converted.

    Autocast computes these layers in bf16 anyway: it casts each float32 weight afresh on
    every forward pass and autograd keeps that copy for the backward pass, ~200 MB per
    pass for SmolLM2-135M on top of its 425 MB of float32 Linear weights. A weight stored
    in bf16 is exactly what autocast would have made of it (casting it again is a no-op),
    so losses and gradients are bit-identical and both copies go: LoRA SFT peaked at 2637
    MB instead of 3140 (benchmarks/sft_vs_trl.py --precision bf16, docs/benchmarks.md),
    0.57x TRL's. Stay float32: trainable parameters (the optimizer's master weights), a
    Linear sharing a weight with another module (a head tied to the embeddings), peft's
    frozen originals of modules_to_save (a reward model's score head), and all that is
    not a Linear (norms, embeddings). Methods that `generate` keep float32: transformers'
    generate runs outside the run's autocast (rollouts.sample), where float32
    activations would meet bf16 weights.
    """
    if mixed_precision(cfg.train)[0] != "bf16" or generates:
        return 0
    if cfg.adapter.type not in BF16_FROZEN_ADAPTERS:
        return 0
    from peft.utils import AuxiliaryTrainingWrapper

    owners = Counter(id(p) for _, p in model.named_parameters(remove_duplicate=False))
    kept = {
        id(sub)
        for module in model.modules()
        if isinstance(module, AuxiliaryTrainingWrapper)
        for sub in module.modules()
    }
    converted = [
        module
        for module in model.modules()
        if isinstance(module, torch.nn.Linear)
        and id(module) not in kept
        and not any(p.requires_grad or owners[id(p)] > 1 for p in module.parameters())
    ]
    for module in converted:
        module.to(torch.bfloat16)
    # The float32 originals were all read to convert them: let their file map go
    # (530 MB resident for SmolLM2-135M), copying what is left (embeddings, norms: 115 MB).
    release_checkpoint_map(model, skip={id(p) for m in converted for p in m.parameters()})
    return len(converted)


CPU_FORWARD_TOKENS = 512
"""Measured on SmolLM2-135M LoRA, 2 cores (docs/benchmarks.md): on an AVX2 CPU in float32,
512-token passes train 19% faster than 2048-token ones with 60% less peak memory (256 is
slower again); on AMX in bf16, 2048 is 28% faster at twice the memory. 512 keeps memory
low on both, and a user with memory to spare raises it."""


def forward_token_budget(setting: int | str | None, device: torch.device) -> int | None:
    """Resolve train.max_tokens_per_forward for the device training runs on."""
    if setting == "auto":
        return CPU_FORWARD_TOKENS if device.type == "cpu" else None
    return setting


def peak_memory_mb() -> float:
    """Peak GPU memory allocated on CUDA, else the process's peak resident set size."""
    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
