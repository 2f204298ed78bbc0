"""Penalties that hold the trained weights near where they started, against catastrophic
forgetting, and the diagonal Fisher information that weights one of them.

Notation: theta the trainable parameters (with an adapter: the adapter's weights),
theta0 their values when training started (an adapter's: its initialisation), F the
diagonal of the Fisher information at theta0.

    L2-SP (Li et al., 2018):                 alpha/2  * sum_i (theta_i - theta0_i)^2
    EWC (Kirkpatrick et al., 2017, eq. 3):   lambda/2 * sum_i F_i (theta_i - theta0_i)^2

EWC reads the first task's posterior as a Gaussian around theta0 with precision F:
weights the general data's likelihood depends on are held, the others move freely. L2-SP
holds every weight alike.

Worked example (shared with tests/unit/test_anchors.py): theta = ([1, 2], [[3]]),
theta0 = ([0, 2], [[1]]), F = ([0.5, 4], [[0.25]]), so theta - theta0 = (1, 0, 2):
L2-SP with alpha = 2 is 2/2 * (1 + 0 + 4) = 5; EWC with lambda = 4 is
4/2 * (0.5 * 1 + 4 * 0 + 0.25 * 4) = 3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import torch


def l2_to_start(
    params: Sequence[torch.Tensor], start: Sequence[torch.Tensor], weight: float
) -> torch.Tensor:
    """weight/2 * sum_i (theta_i - theta0_i)^2 over every tensor, in float32."""
    terms = (p.float().sub(p0).square().sum() for p, p0 in zip(params, start, strict=True))
    return weight / 2 * _sum(terms)


def ewc_penalty(
    params: Sequence[torch.Tensor],
    start: Sequence[torch.Tensor],
    fisher: Sequence[torch.Tensor],
    lam: float,
) -> torch.Tensor:
    """lam/2 * sum_i F_i (theta_i - theta0_i)^2 (Kirkpatrick et al., 2017, eq. 3), in float32."""
    terms = (
        (f * p.float().sub(p0).square()).sum()
        for p, p0, f in zip(params, start, fisher, strict=True)
    )
    return lam / 2 * _sum(terms)


def diagonal_fisher(
    params: Sequence[torch.Tensor],
    samples: Iterable[Any],
    log_likelihood: Callable[[Any], torch.Tensor],
) -> list[torch.Tensor]:
    """The empirical diagonal Fisher at the current parameters:

        F_i = 1/N * sum_n (d log p(x_n | theta) / d theta_i)^2

    one backward pass per sample, with the sample's own labels (the "empirical" Fisher;
    the "true" Fisher would sample labels from the model instead). float32, on each
    parameter's device; a parameter the likelihood does not reach gets zeros. Gradients
    are read from `.grad`, which is left None (torch.autograd.grad would refuse
    reentrant gradient checkpointing)."""
    fisher = [torch.zeros_like(p, dtype=torch.float32) for p in params]
    count = 0
    for p in params:
        p.grad = None
    for sample in samples:
        log_likelihood(sample).backward()
        for f, p in zip(fisher, params, strict=True):
            if p.grad is not None:
                f.add_(p.grad.float().square())
                p.grad = None
        count += 1
    if count == 0:
        raise ValueError("the Fisher information needs at least one sample")
    return [f.div_(count) for f in fisher]


@dataclass
class Anchors:
    """The trainable parameters, their starting values and the active penalties."""

    params: list[torch.nn.Parameter]
    start: list[torch.Tensor]
    """float32 copies of the parameters at the start, on their devices."""
    l2_weight: float = 0.0
    fisher: list[torch.Tensor] | None = None
    ewc_lambda: float = 0.0

    @classmethod
    def at(cls, params: Sequence[torch.nn.Parameter], l2_weight: float = 0.0) -> Anchors:
        """Anchors at the parameters' current values."""
        start = [p.detach().float().clone() for p in params]
        return cls(list(params), start, l2_weight)

    def penalties(self) -> dict[str, torch.Tensor]:
        """Each active penalty at the current parameters, by its metric name."""
        terms = {}
        if self.l2_weight:
            terms["l2_to_start_penalty"] = l2_to_start(self.params, self.start, self.l2_weight)
        if self.fisher is not None:
            terms["ewc_penalty"] = ewc_penalty(
                self.params, self.start, self.fisher, self.ewc_lambda
            )
        return terms


def _sum(terms: Iterable[torch.Tensor]) -> torch.Tensor:
    """The sum of 0-d tensors, a tensor even when there is none."""
    terms = list(terms)
    return torch.stack(terms).sum() if terms else torch.zeros(())
