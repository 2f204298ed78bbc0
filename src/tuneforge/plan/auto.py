"""`auto` hyperparameters, one set of rules for `tuneforge train` (train.epochs,
train.batch_size, train.lr: auto) and the jobs API's "auto" (jobs/hyperparameters.py).

- epochs: OpenAI's published default, from the cookbook notebook "Data preparation and
  analysis for chat model fine-tuning" (github.com/openai/openai-cookbook,
  examples/Chat_finetuning_data_prep.ipynb), which the fine-tuning guide links to: 3
  epochs, and at least 100 and at most 25,000 examples seen in the run (floor division,
  as the notebook's).
- batch size: about 0.2% of the examples, rounded down to a power of two, in [4, 256],
  never more than the examples there are (auto_batch_size says why).
- learning rate: the method's shipped LoRA config's (configs/<method>-lora.yaml; a test
  keeps them equal), a tenth of it for full fine-tuning (configs/sft-full.yaml's 2e-5 over
  sft-lora's 2e-4): every weight moving calls for smaller steps.
"""

from __future__ import annotations

from typing import Any

TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25
MAX_BATCH_SIZE = 256  # OpenAI's largest batch size
MIN_AUTO_BATCH_SIZE = 4
AUTO_BATCH_FRACTION = 0.002
FULL_FINE_TUNING_MULTIPLIER = 0.1

SHIPPED_LR: dict[str, float] = {
    "sft": 2.0e-4, "dpo": 5.0e-5, "grpo": 1.0e-4, "orpo": 8.0e-5, "simpo": 5.0e-5,
    "kto": 5.0e-5, "ppo": 1.0e-5, "reward": 1.0e-4,
}  # fmt: skip
"""train.lr of each method's shipped LoRA config: what `auto` means for an adapter."""

AUTO_KEYS = ("epochs", "batch_size", "lr")


def auto_n_epochs(n_train_examples: int) -> int:
    """OpenAI's default: 3 epochs, more for small files, fewer for large ones."""
    n = n_train_examples
    if n * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        return min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n)
    if n * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        return max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n)
    return TARGET_EPOCHS


def auto_batch_size(n_train_examples: int) -> int:
    """About 0.2% of the examples, rounded down to a power of two, in [4, 256], never
    more than the examples there are.

    Why: 0.2% capped at 256 is the batch size OpenAI has been observed to pick, so a job
    moved from OpenAI takes about as many optimizer steps per epoch as it did there. The
    floor of 4 is ours: OpenAI's epoch rule makes every run see at least 100 examples, so
    4 keeps at least 25 optimizer steps (enough for the warmup and the cosine decay to
    take shape) while giving a GPU more than one sequence per forward pass; memory does
    not grow with it, since train.max_tokens_per_forward splits a micro-batch into passes.
    Powers of two split evenly across devices and tensor-core tiles. Rounding down
    favours more, smaller steps, which small fine-tuning sets need more than throughput."""
    target = max(1, int(n_train_examples * AUTO_BATCH_FRACTION))
    power = 1 << (target.bit_length() - 1)  # largest power of two <= target
    return min(n_train_examples, max(MIN_AUTO_BATCH_SIZE, min(MAX_BATCH_SIZE, power)))


def auto_lr(method: str, adapter: str) -> float:
    return SHIPPED_LR[method] * (FULL_FINE_TUNING_MULTIPLIER if adapter == "full" else 1.0)


def resolve_auto(
    train: dict[str, Any], method: str, adapter: str, n: int
) -> tuple[dict[str, Any], list[str]]:
    """The train section with each `auto` replaced, and one line per replacement saying
    what it became and by which rule."""
    resolved, lines = dict(train), []
    if resolved.get("epochs") == "auto":
        resolved["epochs"] = auto_n_epochs(n)
        lines.append(
            f"train.epochs auto -> {resolved['epochs']} for {n} examples (OpenAI's rule: "
            f"{TARGET_EPOCHS} epochs, at least {MIN_TARGET_EXAMPLES} and at most "
            f"{MAX_TARGET_EXAMPLES:,} examples seen)"
        )
    if resolved.get("batch_size") == "auto":
        resolved["batch_size"] = auto_batch_size(n)
        lines.append(
            f"train.batch_size auto -> {resolved['batch_size']} (0.2% of {n} examples as a "
            f"power of two, within [{MIN_AUTO_BATCH_SIZE}, {MAX_BATCH_SIZE}])"
        )
    if resolved.get("lr") == "auto":
        resolved["lr"] = auto_lr(method, adapter)
        full = f", x{FULL_FINE_TUNING_MULTIPLIER} for full fine-tuning" if adapter == "full" else ""
        lines.append(
            f"train.lr auto -> {resolved['lr']:g} (configs/{method}-lora.yaml's "
            f"{SHIPPED_LR[method]:g}{full})"
        )
    return resolved, lines
