"""Resolve a fine-tuning job's hyperparameters: every "auto" (or missing) value filled in,
every bad value refused with the request field that holds it.

| hyperparameter             | methods          | "auto" means                      | accepted    |
| -------------------------- | ---------------- | --------------------------------- | ----------- |
| `n_epochs`                 | all              | 3, or more/fewer by size (1)      | 1 to 50     |
| `batch_size`               | all              | 0.2% of n, as a power of 2 (2)    | 1 to 256, n |
| `learning_rate_multiplier` | all              | 1.0 adapters, 0.1 full (3)        | > 0         |
| `beta`                     | dpo, orpo, simpo, kto | the method's default (dpo 0.1) | > 0       |
| `compute_multiplier`       | reinforcement    | 1.0: 4 samples per prompt (4)     | > 0         |
| `eval_interval`            | reinforcement    | one evaluation per epoch          | >= 1 step   |
| `eval_samples`             | reinforcement    | 1 greedy completion per prompt    | 1           |
| `reasoning_effort`         | reinforcement    | default                           | default     |

n is the number of valid training examples.
(1) OpenAI's rule: 3 epochs; min(25, 100 // n) when n x 3 < 100; max(1, 25000 // n)
    when n x 3 > 25000.
(2) Rounded down to a power of two, at least 4 and at most 256, never above n.
(3) Times the learning rate of the method's shipped config (configs/<method>-lora.yaml);
    the absolute rate is reported as `tuneforge_learning_rate`, a key OpenAI does not use.
(4) GRPO's completions per prompt: round(4 x multiplier), at least 2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tuneforge.config.methods import method_config_class
from tuneforge.errors import TuneForgeError
from tuneforge.plan.auto import (
    FULL_FINE_TUNING_MULTIPLIER,
    MAX_BATCH_SIZE,
    SHIPPED_LR,
    auto_batch_size,
    auto_n_epochs,
)

# The auto rules `tuneforge train` shares (plan/auto.py says where each comes from).
MAX_EPOCHS = 50  # the API reference: "any number between 1 and 50 epochs"
GRPO_GROUP_SIZE = 4  # GRPOConfig.num_generations' default, scaled by compute_multiplier

METHOD_NAMES: dict[str, str] = {
    "supervised": "sft",
    "dpo": "dpo",
    "reinforcement": "grpo",
    "orpo": "orpo",
    "simpo": "simpo",
    "kto": "kto",
}
"""OpenAI's method types (and TuneForge's orpo, simpo, kto) -> TuneForge method names."""

METHOD_DEFAULT_LR: dict[str, float] = {
    method_type: SHIPPED_LR[name] for method_type, name in METHOD_NAMES.items()
}
"""The learning rate a multiplier of 1.0 means, per method type."""

COMMON_KEYS = ("n_epochs", "batch_size", "learning_rate_multiplier")
REINFORCEMENT_KEYS = ("compute_multiplier", "eval_interval", "eval_samples", "reasoning_effort")
KEYS_OF_METHOD: dict[str, tuple[str, ...]] = {
    "supervised": COMMON_KEYS,
    "dpo": (*COMMON_KEYS, "beta"),
    "reinforcement": (*COMMON_KEYS, *REINFORCEMENT_KEYS),
    "orpo": (*COMMON_KEYS, "beta"),
    "simpo": (*COMMON_KEYS, "beta"),
    "kto": (*COMMON_KEYS, "beta"),
}
LEARNING_RATE_KEY = "tuneforge_learning_rate"
FULL_ADAPTERS = ("full",)


class JobSpecError(TuneForgeError):
    """A job request that cannot become a training run: `param` names the request field
    (dotted, e.g. method.dpo.hyperparameters.beta), as OpenAI's error object does."""

    def __init__(self, message: str, param: str | None = None):
        self.message, self.param = message, param
        super().__init__(f"{param}: {message}" if param else message)


def resolve_hyperparameters(
    method_type: str,
    requested: Mapping[str, Any] | None,
    n_train_examples: int,
    default_lr: float,
    adapter_type: str = "lora",
    param_prefix: str | None = None,
) -> dict[str, Any]:
    """Every hyperparameter of `method_type` resolved for `n_train_examples` examples.
    `param_prefix` is where the request holds them (default
    method.<method_type>.hyperparameters; `hyperparameters` for the deprecated top level)."""
    prefix = param_prefix or f"method.{method_type}.hyperparameters"
    if method_type not in KEYS_OF_METHOD:
        raise JobSpecError(
            f"unknown method type {method_type!r}; expected one of {sorted(KEYS_OF_METHOD)}",
            "method.type",
        )
    if n_train_examples < 1:
        raise JobSpecError("the training file holds no valid example", "training_file")
    requested = dict(requested or {})
    allowed = KEYS_OF_METHOD[method_type]
    for key in requested:
        if key not in allowed:
            raise JobSpecError(
                f"unknown hyperparameter for {method_type}; expected one of {list(allowed)}",
                f"{prefix}.{key}",
            )
    resolved: dict[str, Any] = {}
    context = _Context(method_type, n_train_examples, adapter_type, resolved)
    for key in allowed:  # in order: batch_size before eval_interval, which uses it
        value = requested.get(key)
        resolved[key] = RESOLVERS[key](
            "auto" if value is None else value, context, f"{prefix}.{key}"
        )
    resolved[LEARNING_RATE_KEY] = default_lr * resolved["learning_rate_multiplier"]
    return resolved


def steps_per_epoch(n_train_examples: int, batch_size: int) -> int:
    """Optimizer steps in one epoch at gradient accumulation 1."""
    return math.ceil(n_train_examples / batch_size)


@dataclass(frozen=True)
class _Context:
    """What a resolver may look at besides its own value."""

    method_type: str
    n: int
    """Training examples."""
    adapter_type: str
    resolved: dict[str, Any]
    """The values resolved so far (eval_interval needs batch_size)."""


def _n_epochs(value: Any, ctx: _Context, param: str) -> int:
    if value == "auto":
        return auto_n_epochs(ctx.n)
    return _integer(value, param, 1, MAX_EPOCHS)


def _batch_size(value: Any, ctx: _Context, param: str) -> int:
    if value == "auto":
        return auto_batch_size(ctx.n)
    size = _integer(value, param, 1, MAX_BATCH_SIZE)
    if size > ctx.n:
        raise JobSpecError(
            f"batch size {size} is larger than the {ctx.n} training examples; lower it or "
            'use "auto"',
            param,
        )
    return size


def _learning_rate_multiplier(value: Any, ctx: _Context, param: str) -> float:
    if value == "auto":
        return FULL_FINE_TUNING_MULTIPLIER if ctx.adapter_type in FULL_ADAPTERS else 1.0
    return _positive(value, param)


def _beta(value: Any, ctx: _Context, param: str) -> float:
    if value == "auto":
        config = method_config_class(METHOD_NAMES[ctx.method_type])
        assert config is not None  # every method type maps to a registered method
        return float(config.model_fields["beta"].default)
    return _positive(value, param)


def _compute_multiplier(value: Any, ctx: _Context, param: str) -> float:
    return 1.0 if value == "auto" else _positive(value, param)


def _eval_interval(value: Any, ctx: _Context, param: str) -> int:
    if value == "auto":
        return steps_per_epoch(ctx.n, ctx.resolved["batch_size"])
    return _integer(value, param, 1, None)


def _eval_samples(value: Any, ctx: _Context, param: str) -> int:
    # Validation scores one greedy completion per prompt (train/online.py), so more
    # samples would be copies of it: only 1 maps.
    if value == "auto" or (_is_integer(value) and value == 1):
        return 1
    raise JobSpecError(
        f"got {value!r}: TuneForge scores one greedy completion per validation prompt, so "
        'only 1 (or "auto") is supported',
        param,
    )


def _reasoning_effort(value: Any, ctx: _Context, param: str) -> str:
    if value in ("auto", "default"):
        return "default"
    raise JobSpecError(
        f"got {value!r}: the open models TuneForge trains have no reasoning-effort setting; "
        'use "default"',
        param,
    )


RESOLVERS: dict[str, Callable[[Any, _Context, str], Any]] = {
    "n_epochs": _n_epochs,
    "batch_size": _batch_size,
    "learning_rate_multiplier": _learning_rate_multiplier,
    "beta": _beta,
    "compute_multiplier": _compute_multiplier,
    "eval_interval": _eval_interval,
    "eval_samples": _eval_samples,
    "reasoning_effort": _reasoning_effort,
}


def grpo_group_size(compute_multiplier: float) -> int:
    """Completions sampled per prompt for a compute multiplier: more compute spent
    exploring is more samples per prompt; GRPO needs at least 2 to compare."""
    return max(2, round(GRPO_GROUP_SIZE * compute_multiplier))


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _integer(value: Any, param: str, low: int, high: int | None) -> int:
    if not _is_integer(value):
        raise JobSpecError(f'expected an integer or "auto", got {value!r}', param)
    if value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise JobSpecError(f"expected an integer {bounds}, got {value}", param)
    return int(value)


def _positive(value: Any, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JobSpecError(f'expected a number or "auto", got {value!r}', param)
    if not math.isfinite(value) or value <= 0:
        raise JobSpecError(f"expected a number greater than 0, got {value}", param)
    return float(value)
