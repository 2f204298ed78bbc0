"""What every merge method shares: the working dtype and the checks on its inputs.

Methods compute in float32, or float64 when an input is float64, and return in the dtype
of the base (of the first model for linear). mergekit 0.1.5 does the same in linear and
SLERP; its task-vector family (task_arithmetic, ties, dare_*) computes in the dtype it
loads the tensors in, its config's `dtype`. With `dtype: float32` the results agree;
with bfloat16 mergekit's task vectors and sums are rounded to bfloat16 at every step and
ours once at the end, so they differ by bfloat16 rounding (and ties.py may then trim
other elements among equal magnitudes).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tuneforge.errors import ConfigError


def working_dtype(tensors: Sequence[torch.Tensor]) -> torch.dtype:
    return torch.float64 if any(t.dtype == torch.float64 for t in tensors) else torch.float32


def check_tensors(method: str, tensors: Sequence[torch.Tensor]) -> None:
    """Same shape, floating point. Embeddings of different vocabulary sizes are the
    caller's to reconcile before the call (mergekit 0.1.5 too makes that an explicit,
    separate step, `truncate_vocabulary`; older versions silently took a submatrix)."""
    if not tensors:
        raise ValueError(f"{method}: no tensors to merge")
    shapes = sorted({tuple(t.shape) for t in tensors})
    if len(shapes) > 1:
        raise ValueError(f"{method}: the tensors have different shapes {shapes}")
    kinds = sorted({str(t.dtype) for t in tensors if not t.is_floating_point()})
    if kinds:
        raise ValueError(f"{method}: only floating-point tensors merge, got {', '.join(kinds)}")


def per_model(method: str, name: str, values: Sequence[float], count: int) -> list[float]:
    """One value of a per-model parameter for each model, as floats."""
    if len(values) != count:
        raise ValueError(f"{method}: {count} model(s) but {len(values)} value(s) of {name!r}")
    return [float(v) for v in values]


def check_density(method: str, densities: Sequence[float]) -> None:
    # mergekit treats density >= 1 as 1 and <= 0 as 0 without a word; a value outside
    # [0, 1] is a typo (a percentage, say), so it is an error here.
    for density in densities:
        if not 0.0 <= density <= 1.0:
            raise ConfigError(
                f"{method}: density is the fraction of each task vector kept, "
                f"between 0 and 1; got {density}"
            )
