"""Task arithmetic (Ilharco et al. 2023, "Editing Models with Task Arithmetic").

With base b, models x_1..x_n, task vectors d_i = x_i - b and weights w_i:

    out = b + lambda * sum_i w_i d_i                          normalize false (default)
    out = b + lambda * sum_i w_i d_i / sum_i w_i              normalize true

A negative weight subtracts a task ("forgetting via negation"). This file also holds the
steps TIES and DARE share with it, in the order mergekit's generalized task arithmetic
runs them: task vectors -> (sparsify each: ties.trim, dare.drop) -> weigh -> mix (this
sum, or ties.disjoint_mean) -> finish.

Conventions followed, mergekit 0.1.5's: the deltas are taken in the working dtype
(float32 for float32 inputs, as mergekit's), the weights are rounded to it, and with
normalize a sum of weights smaller than 1e-8 in magnitude is replaced by 1 (the sum is
then left undivided rather than blown up); lambda multiplies the mixed delta after the
division. mergekit also accepts `density` and `rescale` for task_arithmetic and ignores
them; here they are unknown parameters, since setting them means expecting an effect.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tuneforge.merge.methods.common import check_tensors, per_model, working_dtype

SMALLEST_SUM = 1e-8  # |sum of weights| below this is not divided by (mergekit's guard)


def task_vectors(
    method: str, base: torch.Tensor, tensors: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The base in the working dtype, and d_i = x_i - b for each model."""
    check_tensors(method, [base, *tensors])
    dtype = working_dtype([base, *tensors])
    base_w = base.to(dtype)
    return base_w, [x.to(dtype) - base_w for x in tensors]


def weigh(
    method: str, deltas: list[torch.Tensor], weight: Sequence[float]
) -> tuple[torch.Tensor, torch.Tensor]:
    """w_i d_i stacked [n, *shape], and the weights shaped [n, 1, ..., 1] to broadcast.
    Consumes `deltas` (the list is emptied once stacked) and weighs in place, so a tensor
    costs two copies of the task vectors at most, not three (a 128k x 4096 embedding's
    copies are gigabytes)."""
    count = len(deltas)
    stacked = torch.stack(deltas)
    deltas.clear()
    weights = torch.tensor(
        per_model(method, "weight", weight, count),
        dtype=stacked.dtype,
        device=stacked.device,
    ).reshape(-1, *([1] * (stacked.dim() - 1)))
    return stacked.mul_(weights), weights


def weighted_sum(
    weighted: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """sum_i w_i d_i and what normalize divides it by: sum_i w_i, or 1 when near zero."""
    divisor = weights.sum(dim=0)
    divisor[divisor.abs() < SMALLEST_SUM] = 1
    return weighted.sum(dim=0), divisor


def finish(
    base_w: torch.Tensor,
    mixed: torch.Tensor,
    divisor: torch.Tensor,
    *,
    normalize: bool,
    lambda_: float,
    dtype: torch.dtype,
) -> torch.Tensor:
    """b + lambda * mixed (/ divisor), cast to the caller's dtype."""
    if normalize:
        mixed = mixed / divisor
    if lambda_ != 1:
        mixed = mixed * lambda_
    return (base_w + mixed).to(dtype)


def task_arithmetic(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    *,
    weight: Sequence[float],
    normalize: bool = False,
    lambda_: float = 1.0,
) -> torch.Tensor:
    base_w, deltas = task_vectors("task_arithmetic", base, tensors)
    if not deltas:
        return base.clone()
    weighted, weights = weigh("task_arithmetic", deltas, weight)
    mixed, divisor = weighted_sum(weighted, weights)
    return finish(base_w, mixed, divisor, normalize=normalize, lambda_=lambda_, dtype=base.dtype)
