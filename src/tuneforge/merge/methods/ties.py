"""TIES merging (Yadav et al. 2023, "TIES-Merging: Resolving Interference When Merging
Models"): trim, elect sign, disjoint mean.

With base b, task vectors d_i = x_i - b, weights w_i and densities rho_i:

1. Trim: keep the k_i = max(1, floor(rho_i * numel)) entries of d_i largest in absolute
   value, zero the rest (rho_i = 1 keeps all; rho_i = 0 keeps none). With `rescale`
   the kept entries are scaled so the L1 norm of the trimmed vector equals the
   untrimmed one's, sum|d_i| / sum|trim(d_i)| (skipped when either is below 1e-7).
2. Elect: per entry, the sign of sum_i w_i trim(d_i) (the "sum" consensus; 0 counts as
   +). mergekit also has a "count" consensus (the sign of sum_i sign(w_i d_i)) that
   none of its registered methods uses; it is not offered here.
3. Disjoint mean: per entry, over the models whose w_i trim(d_i) has the elected sign
   (a zeroed entry has sign 0 and never agrees),
       m = sum_agree w_i trim(d_i) / sum_agree w_i      normalize true (the default)
       m = sum_agree w_i trim(d_i)                      normalize false
   an entry where no model agrees divides by 1 instead of 0, giving 0.
4. out = b + lambda * m.

These are the conventions of mergekit 0.1.5's `ties` (normalize true, rescale false,
lambda 1 by default), including floor(rho * numel) computed in Python floats: density
0.29 of 100 entries keeps 28. One convention is ours: among entries whose magnitude
equals the k-th largest, those first in flat (row-major) order are kept. mergekit sorts
with an unstable argsort, so which of several tied entries it keeps depends on the
sorting algorithm, the tensor's size and the device; results agree whenever the k-th and
(k+1)-th largest magnitudes differ, as they almost always do for float32 task vectors.
bfloat16 deltas tie often: there mergekit's choice is arbitrary and ours is the rule
above (and ours come from float32 deltas, see common.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tuneforge.merge.methods.common import check_density, per_model
from tuneforge.merge.methods.task_arithmetic import finish, task_vectors, weigh

RESCALE_EPS = 1e-7  # an L1 norm below this is not rescaled (mergekit's tolerance)


def top_k_mask(magnitude: torch.Tensor, k: int) -> torch.Tensor:
    """A boolean mask of the k largest entries of a flat tensor; ties at the threshold
    go to the first in order. A selection (kthvalue) rather than a full argsort: no
    [numel] int64 permutation, which for a 128k x 4096 embedding is 4 GB."""
    n = magnitude.numel()
    if k >= n:
        return torch.ones_like(magnitude, dtype=torch.bool)
    threshold = torch.kthvalue(magnitude, n - k + 1).values  # the k-th largest
    keep = magnitude > threshold
    missing = k - int(keep.sum())
    if missing > 0:
        tied = torch.nonzero(magnitude == threshold).squeeze(1)[:missing]
        keep[tied] = True
    return keep


def l1_rescale(delta: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    before, after = delta.abs().sum(), kept.abs().sum()
    if before < RESCALE_EPS or after < RESCALE_EPS:
        return kept
    return kept * (before / after)


def trim(delta: torch.Tensor, density: float, rescale: bool) -> torch.Tensor:
    """Step 1 for one task vector."""
    if density >= 1:
        return delta
    if density <= 0 or delta.numel() == 0:
        return torch.zeros_like(delta)
    k = max(1, int(density * delta.numel()))
    keep = top_k_mask(delta.abs().reshape(-1), k).reshape(delta.shape)
    kept = delta * keep.to(delta.dtype)
    return l1_rescale(delta, kept) if rescale else kept


def disjoint_mean(
    weighted: torch.Tensor, weights: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Steps 2 and 3 on w_i d_i stacked [n, *shape]: the sum over the models that agree
    with the elected sign, and the sum of their weights (1 where none agrees)."""
    elected = torch.where(weighted.sum(dim=0) >= 0, 1.0, -1.0).to(weighted.dtype)
    agree = (weighted.sign() == elected).to(weighted.dtype)
    divisor = (weights * agree).sum(dim=0)
    divisor[divisor == 0] = 1
    return (weighted * agree).sum(dim=0), divisor


def ties(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    *,
    weight: Sequence[float],
    density: Sequence[float],
    normalize: bool = True,
    rescale: bool = False,
    lambda_: float = 1.0,
) -> torch.Tensor:
    base_w, deltas = task_vectors("ties", base, tensors)
    if not deltas:
        return base.clone()
    densities = per_model("ties", "density", density, len(deltas))
    check_density("ties", densities)
    trimmed = [trim(d, rho, rescale) for d, rho in zip(deltas, densities, strict=True)]
    del deltas  # the sparsified copies replace them
    weighted, weights = weigh("ties", trimmed, weight)
    mixed, divisor = disjoint_mean(weighted, weights)
    return finish(base_w, mixed, divisor, normalize=normalize, lambda_=lambda_, dtype=base.dtype)
