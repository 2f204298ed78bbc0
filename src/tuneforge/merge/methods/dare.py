"""DARE (Yu et al. 2024, "Language Models are Super Mario"): drop and rescale,
then mix the task vectors linearly (dare_linear) or with TIES's election (dare_ties).

With base b, task vectors d_i = x_i - b, weights w_i and densities rho_i, each d_i is
sparsified independently:

    m_i ~ Bernoulli(rho_i) per entry              (keep with probability rho_i)
    drop(d_i) = m_i * d_i / rho_i                 rescale true (the default)
    drop(d_i) = m_i * d_i                         rescale false

Dividing by rho_i makes the kept vector unbiased, E[drop(d_i)] = d_i. Then

    dare_linear:  out = b + lambda * sum_i w_i drop(d_i)  (/ sum_i w_i with normalize)
    dare_ties:    out = b + lambda * disjoint_mean(w_i drop(d_i))   (see ties.py)

with normalize false by default for both, as in mergekit.

Randomness: the masks are drawn with the `generator` passed in (torch's default one when
None), model by model in the order given, one draw of numel Bernoulli samples from a
float32 tensor of rho_i; rho_i = 1 draws nothing. That is the very call mergekit makes
with torch's global generator, so on the CPU with float32 tensors the same generator
state yields the same masks as mergekit's (on CUDA mergekit draws in the tensor's dtype,
so for bf16 tensors from rho rounded to bf16: 0.3 becomes 0.30078125).

Where this differs from mergekit 0.1.5: its `rescale` does not divide by rho_i but
scales each dropped vector to the L1 norm of the undropped one, by
sum|d_i| / sum|m_i d_i| (as TIES's rescale does); that factor is near 1/rho_i, off by
about 1.25 sqrt((1 - rho) / (rho numel)) relative for Gaussian-like deltas of numel
entries (3e-4 for a 4096 x 4096 weight at rho 0.5). Here rescale is the paper's
1/rho, which is exactly unbiased per entry and which mergekit used until it adopted the
norm matching; with rescale false the two agree exactly given the same masks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from tuneforge.merge.methods.common import check_density, per_model
from tuneforge.merge.methods.task_arithmetic import finish, task_vectors, weigh, weighted_sum
from tuneforge.merge.methods.ties import disjoint_mean


def drop(
    delta: torch.Tensor, density: float, rescale: bool, generator: torch.Generator | None
) -> torch.Tensor:
    """The sparsified task vector of one model. The mask is drawn on the generator's
    device, so a CPU generator gives the same masks whether the merge runs on the CPU or
    on a GPU."""
    if density >= 1:
        return delta
    device = generator.device if generator is not None else delta.device
    keep_probability = torch.full(delta.shape, density, dtype=torch.float32, device=device)
    keep = torch.bernoulli(keep_probability, generator=generator).to(delta.device, delta.dtype)
    kept = delta * keep
    return kept / density if rescale and density > 0 else kept


def _dropped(
    method: str,
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    weight: Sequence[float],
    density: Sequence[float],
    rescale: bool,
    generator: torch.Generator | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The base in the working dtype, w_i drop(d_i) stacked, the weights; None without
    models (the base is then the result)."""
    base_w, deltas = task_vectors(method, base, tensors)
    if not deltas:
        return None
    densities = per_model(method, "density", density, len(deltas))
    check_density(method, densities)
    dropped = [drop(d, rho, rescale, generator) for d, rho in zip(deltas, densities, strict=True)]
    del deltas  # the sparsified copies replace them
    weighted, weights = weigh(method, dropped, weight)
    return base_w, weighted, weights


def dare_linear(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    *,
    weight: Sequence[float],
    density: Sequence[float],
    generator: torch.Generator | None = None,
    normalize: bool = False,
    rescale: bool = True,
    lambda_: float = 1.0,
) -> torch.Tensor:
    parts = _dropped("dare_linear", base, tensors, weight, density, rescale, generator)
    if parts is None:
        return base.clone()
    base_w, weighted, weights = parts
    mixed, divisor = weighted_sum(weighted, weights)
    return finish(base_w, mixed, divisor, normalize=normalize, lambda_=lambda_, dtype=base.dtype)


def dare_ties(
    base: torch.Tensor,
    tensors: Sequence[torch.Tensor],
    *,
    weight: Sequence[float],
    density: Sequence[float],
    generator: torch.Generator | None = None,
    normalize: bool = False,
    rescale: bool = True,
    lambda_: float = 1.0,
) -> torch.Tensor:
    parts = _dropped("dare_ties", base, tensors, weight, density, rescale, generator)
    if parts is None:
        return base.clone()
    base_w, weighted, weights = parts
    mixed, divisor = disjoint_mean(weighted, weights)
    return finish(base_w, mixed, divisor, normalize=normalize, lambda_=lambda_, dtype=base.dtype)
